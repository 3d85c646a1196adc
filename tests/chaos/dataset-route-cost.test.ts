import { describe, expect, it } from 'vitest';
import { validateRunConfig } from '../../core/config/run-config.ts';
import { encodeDataset } from '../../core/data/dataset.ts';
import { loadDataset, parseDatasetSpec, type DatasetSpecInput } from '../../core/data/dataset-spec.ts';
import { datasetTrainUrl } from '../../core/data/dataset-route.ts';
import { MNIST_TRAIN_SIZE } from '../../core/data/mnist.ts';
import { trainSplitCache } from '../../coordinator/http/train-split-cache.ts';
import { syntheticConfig } from '../integration/support/harness.ts';
import { chaosFixture } from './support/chaos-fixture.ts';

const chaos = chaosFixture();

/** Distinct MNIST train sizes a stranger may ask for, with or without a test_size (which does not change the train split). */
const SIZES = Array.from({ length: 50 }, (_, i) => MNIST_TRAIN_SIZE - i * 150);

async function download(base: string, spec: DatasetSpecInput, headers: Record<string, string> = {}): Promise<{ status: number; etag: string | null; bytes: Uint8Array }> {
  const res = await fetch(`${base}${datasetTrainUrl(parseDatasetSpec(spec))}`, { headers });
  return { status: res.status, etag: res.headers.get('etag'), bytes: new Uint8Array(await res.arrayBuffer()) };
}

/** The bytes the route served before it cut MNIST from one encoding: encodeDataset of loadDataset's train split. */
async function encodedDirectly(spec: DatasetSpecInput): Promise<Uint8Array> {
  return encodeDataset((await loadDataset(spec)).train);
}

describe('the dataset route encodes each data set once, whatever train_size is asked (issue 15, item 15)', () => {
  it('50 MNIST requests with distinct train_size cost one encoding; every size is byte for byte its own encoding, with its own ETag', async () => {
    const t = await chaos.start();
    const base = t.coordinator.url;
    const before = trainSplitCache.stats().encodings;
    const cpu = process.cpuUsage();
    const statuses: number[] = [];
    for (const [i, train_size] of SIZES.entries()) {
      const { status } = await download(base, i % 2 ? { name: 'mnist', train_size } : { name: 'mnist', train_size, test_size: 1 + i });
      statuses.push(status);
    }
    const used = process.cpuUsage(cpu);
    console.log(`50 distinct MNIST train sizes: ${trainSplitCache.stats().encodings - before} encoding(s), ${((used.user + used.system) / 1e6).toFixed(2)} s of process CPU (server and client, MNIST loaded cold)`);
    expect(statuses).toEqual(SIZES.map(() => 200));
    // This file's module graph is its own, so MNIST is not cached yet: exactly the one encoding of the whole split.
    expect(trainSplitCache.stats().encodings - before).toBe(1);

    const etags = new Set<string>();
    for (const train_size of [1, 2, 999, 4321, MNIST_TRAIN_SIZE - 1, MNIST_TRAIN_SIZE, undefined]) {
      const spec: DatasetSpecInput = { name: 'mnist', train_size };
      const served = await download(base, spec);
      expect(served.status).toBe(200);
      expect(Buffer.from(served.bytes).equals(Buffer.from(await encodedDirectly(spec)))).toBe(true);
      expect(served.etag).toMatch(/^"[0-9a-f]{32}"$/);
      etags.add(served.etag!);
      const again = await download(base, spec, { 'if-none-match': served.etag! });
      expect(again.status).toBe(304);
    }
    // The whole split is the same bytes with or without train_size 8000: one ETag for the two.
    expect(etags.size).toBe(6);
    expect(trainSplitCache.stats().encodings - before).toBe(1);
    expect(trainSplitCache.stats().entries).toBeLessThanOrEqual(trainSplitCache.maxEntries);
  });

  it("an active run's data set is encoded once; the same data set with another train_size is refused (404) and costs nothing", async () => {
    const t = await chaos.start();
    const config = validateRunConfig(syntheticConfig({ name: 'dataset-route-cost', min_workers: 1, total_updates: 5 }));
    // min_workers 1 and no worker: the run stays active (waiting), which is all this route needs.
    await t.coordinator.startRun(config);
    const base = t.coordinator.url;
    const before = trainSplitCache.stats().encodings;
    for (let i = 0; i < 5; i++) {
      const served = await download(base, config.dataset);
      expect(served.status).toBe(200);
      expect(Buffer.from(served.bytes).equals(Buffer.from(await encodedDirectly(config.dataset)))).toBe(true);
    }
    for (let i = 1; i <= 20; i++) {
      const other = { ...config.dataset, train_size: 1000 + i } as DatasetSpecInput;
      const res = await fetch(`${base}${datasetTrainUrl(parseDatasetSpec(other))}`);
      expect(res.status).toBe(404);
      expect(JSON.stringify(await res.json())).toContain('is not the data set of an active run');
    }
    expect(trainSplitCache.stats().encodings - before).toBe(1);
  });
});
