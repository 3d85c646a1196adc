import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateRunConfig } from '../../core/config/run-config.ts';
import { decodeDataset } from '../../core/data/dataset.ts';
import { loadDataset, parseDatasetSpec } from '../../core/data/dataset-spec.ts';
import { datasetTrainUrl } from '../../core/data/dataset-route.ts';
import { startTestCoordinator, syntheticConfig, type TestCoordinator } from '../integration/support/harness.ts';

let t: TestCoordinator;
const config = validateRunConfig(syntheticConfig({ name: 'dataset-route', min_workers: 1, total_updates: 5 }));

beforeAll(async () => {
  t = await startTestCoordinator();
  // min_workers 1 and no worker: the run stays active (waiting), which is all this route needs.
  await t.coordinator.startRun(config);
});
afterAll(async () => {
  await t?.cleanup();
});

describe('GET /api/v1/datasets/train and /api/v1/tfjs-wasm: what tabs download once', () => {
  it('serves the active run train split in binary form, identical to loadDataset, with an ETag and long-lived caching', async () => {
    const res = await fetch(`${t.coordinator.url}${datasetTrainUrl(config.dataset)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('cache-control')).toMatch(/max-age=\d+/);
    const etag = res.headers.get('etag');
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    const served = decodeDataset(new Uint8Array(await res.arrayBuffer()));
    const { train } = await loadDataset(config.dataset);
    expect(served.size).toBe(train.size);
    expect(served.inputShape).toEqual(train.inputShape);
    expect(served.labels).toEqual(train.labels);
    expect(served.features).toEqual(train.features);

    const again = await fetch(`${t.coordinator.url}${datasetTrainUrl(config.dataset)}`, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    expect((await again.arrayBuffer()).byteLength).toBe(0);
  });

  it('serves MNIST at one byte per pixel (lossless)', async () => {
    const spec = parseDatasetSpec({ name: 'mnist', train_size: 100 });
    const res = await fetch(`${t.coordinator.url}${datasetTrainUrl(spec)}`);
    expect(res.status).toBe(200);
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(bytes.byteLength).toBeLessThan(100 * 784 + 100 + 128);
    const { train } = await loadDataset(spec);
    expect(decodeDataset(bytes).features).toEqual(train.features);
  });

  it('refuses data sets other than those of active runs and MNIST, bad JSON and a missing spec, naming the problem', async () => {
    const other = parseDatasetSpec({ name: 'synthetic', shape: [4], train_size: 10, test_size: 2 });
    const notActive = await fetch(`${t.coordinator.url}${datasetTrainUrl(other)}`);
    expect(notActive.status).toBe(404);
    expect(JSON.stringify(await notActive.json())).toContain('is not the data set of an active run');
    const badJson = await fetch(`${t.coordinator.url}/api/v1/datasets/train?spec=%7Bnope`);
    expect(badJson.status).toBe(400);
    expect(JSON.stringify(await badJson.json())).toContain('is not JSON');
    const badSpec = await fetch(`${t.coordinator.url}/api/v1/datasets/train?spec=${encodeURIComponent('{"name":"imagenet"}')}`);
    expect(badSpec.status).toBe(400);
    const missing = await fetch(`${t.coordinator.url}/api/v1/datasets/train`);
    expect(missing.status).toBe(400);
    const post = await fetch(`${t.coordinator.url}${datasetTrainUrl(config.dataset)}`, { method: 'POST' });
    expect(post.status).toBe(405);
  });

  it('serves the tfjs wasm binaries as application/wasm and nothing else from that folder', async () => {
    const res = await fetch(`${t.coordinator.url}/api/v1/tfjs-wasm/tfjs-backend-wasm-simd.wasm`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/wasm');
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect([...bytes.subarray(0, 4)]).toEqual([0x00, 0x61, 0x73, 0x6d]); // "\0asm"
    const traversal = await fetch(`${t.coordinator.url}/api/v1/tfjs-wasm/..%2Fpackage.json`);
    expect(traversal.status).toBe(404);
  });
});
