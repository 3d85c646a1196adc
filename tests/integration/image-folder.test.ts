import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseRunConfig, validateRunConfig } from '../../core/config/run-config.ts';
import { loadDataset } from '../../core/data/dataset-spec.ts';
import { decodeDataset } from '../../core/data/dataset.ts';
import { datasetTrainUrl } from '../../core/data/dataset-route.ts';
import { installDatasetFileSource } from '../../core/data/csv/dataset-file-source.ts';
import { installImageDecoder } from '../../core/data/images/image-decoder.ts';
import { installNodeDatasetFiles } from '../../worker-node/node-dataset-files.ts';
import { writeMnistImages } from '../../scripts/write-mnist-images.ts';
import { startTestCoordinator, type TestCoordinator } from './support/harness.ts';
import { joinTestWorker, type TestWorker } from './support/test-worker.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Digits written per class: 600 PNG files, 480 train / 120 test (stratified: 48 / 12 per digit). */
const PER_CLASS = 60;
/** Test accuracy the run must reach in 100 updates (0.833 measured, 100 of 120); every digit is 10% of the test split. */
const TARGET_ACCURACY = 0.75;

let dir = '';
let t: TestCoordinator | null = null;
let workers: TestWorker[] = [];
// The coordinator and both test workers run in this process: one file source and image decoder serve them all.
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'ct-mnist-images-'));
  await writeMnistImages(path.join(dir, 'digits'), PER_CLASS);
  installNodeDatasetFiles({ baseDir: dir });
});
afterAll(() => {
  installDatasetFileSource(null);
  installImageDecoder(null);
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all((t?.coordinator.activeRuns() ?? []).map((r) => r.stop('stopped', 'test cleanup')));
  for (const w of workers) await w.close();
  workers = [];
  await t?.cleanup();
  t = null;
});

function exampleConfig() {
  return parseRunConfig(readFileSync(path.join(ROOT, 'configs/mnist-images.yaml'), 'utf8'), 'configs/mnist-images.yaml');
}

describe('a run on an image folder', () => {
  it(`trains an MLP on ${10 * PER_CLASS} MNIST PNGs with 2 workers to >= ${TARGET_ACCURACY} test accuracy; tabs get the decoded train split`, async () => {
    const example = exampleConfig();
    const config = validateRunConfig({
      ...example,
      dataset: { ...example.dataset, path: 'digits' },
      // The config's CNN takes about a minute for these updates on a 2-core machine; an MLP a few seconds.
      model: { type: 'mlp', hidden: [64] },
      total_updates: 100,
      batch_size: 32,
      global_batch_size: 64,
      min_workers: 2,
      eval_every: 50,
      checkpoint_every: 1000,
    });
    const local = await loadDataset(config.dataset);
    expect(local.images).toMatchObject({ files: 10 * PER_CLASS, classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], resized: 0 });
    expect([local.train.size, local.test.size, local.train.numClasses]).toEqual([480, 120, 10]);
    expect(local.train.inputShape).toEqual([28, 28, 1]);

    t = await startTestCoordinator();
    const { url } = t.coordinator;
    workers = await Promise.all([0, 1].map((i) => joinTestWorker({ url, token: t!.token, name: `img${i}` })));
    const session = await t.coordinator.startRun(config);

    // A tab downloads the train split the coordinator decodes from the same files (one byte per pixel: every value is k/255).
    const res = await fetch(`${url}${datasetTrainUrl(config.dataset)}`);
    expect(res.status).toBe(200);
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(bytes.length).toBeLessThan(480 * 784 * 2);
    const served = decodeDataset(bytes);
    expect(served.features).toEqual(local.train.features);
    expect(served.labels).toEqual(local.train.labels);

    const outcome = await session.done;
    expect(outcome.status).toBe('finished');
    const acc = (await t.coordinator.store.getMetricHistory(session.runId, 'eval_accuracy')).map((p) => p.value);
    console.log(`image folder run: eval_accuracy ${acc.map((a) => a.toFixed(3)).join(' -> ')}`);
    expect(acc.at(-1)!).toBeGreaterThanOrEqual(TARGET_ACCURACY);
    const params = await t.coordinator.store.getParams(session.runId);
    expect(params['dataset.name']).toBe('images');
    expect(params['dataset.path']).toBe('digits');
    // The run's data set version is the folder's file hash, named after the folder, with the class folders' names.
    const [input] = (await t.coordinator.store.runInputs([session.runId])).get(session.runId) ?? [];
    expect(input?.dataset).toMatchObject({ name: 'digits', version: 1, digest: local.images!.sha256, sourceType: 'local' });
  });

  it('refuses a run whose folder holds a file that is no image, naming it, with nothing recorded', async () => {
    writeFileSync(path.join(dir, 'digits', '7', 'notes.txt'), 'not a digit');
    try {
      const example = exampleConfig();
      t = await startTestCoordinator();
      const bad = validateRunConfig({ ...example, dataset: { ...example.dataset, path: 'digits' } });
      await expect(t.coordinator.startRun(bad)).rejects.toThrow(/^images dataset: digits\/7\/notes\.txt: is not an image file/);
      expect(t.coordinator.activeRuns()).toEqual([]);
      expect(await t.coordinator.store.listRuns({ take: 10 })).toEqual([]);
    } finally {
      rmSync(path.join(dir, 'digits', '7', 'notes.txt'));
    }
  });
});
