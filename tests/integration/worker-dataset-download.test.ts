/**
 * Node workers get a csv data set's train split from the coordinator (`--data auto`), as tabs do:
 * the downloader against the real HTTP route (download, 304 revalidation from the disk cache, a
 * corrupt entry downloaded again, eviction, a refused spec), and two worker processes training the
 * penguins of vega-datasets from it.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseRunConfig, validateRunConfig } from '../../core/config/run-config.ts';
import { loadDataset } from '../../core/data/dataset-spec.ts';
import { installDatasetFileSource } from '../../core/data/csv/dataset-file-source.ts';
import { installNodeDatasetFiles } from '../../worker-node/node-dataset-files.ts';
import { TrainSplitDownloader } from '../../worker-node/train-split-download.ts';
import { startTestCoordinator, type TestCoordinator } from './support/harness.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CONFIG = 'configs/penguins.yaml';
/** Test accuracy of 60 updates on the penguins (majority class 44%; in-process workers measured 0.986). */
const TARGET_ACCURACY = 0.9;

let t: TestCoordinator | null = null;
let cacheDir = '';
beforeAll(() => installNodeDatasetFiles({ baseDir: ROOT }));
afterAll(() => installDatasetFileSource(null));
afterEach(async () => {
  await Promise.all((t?.coordinator.activeRuns() ?? []).map((r) => r.stop('stopped', 'test cleanup')));
  await t?.cleanup();
  t = null;
  if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  cacheDir = '';
});

const penguins = () => {
  const example = parseRunConfig(readFileSync(path.join(ROOT, CONFIG), 'utf8'), CONFIG);
  return validateRunConfig({ ...example, total_updates: 60, batch_size: 16, global_batch_size: 32, min_workers: 2, eval_every: 30, checkpoint_every: 1000 });
};

describe('train splits downloaded by node workers', () => {
  it('downloads once, revalidates from the disk cache (304), re-downloads a corrupt entry, evicts beyond its size, and names a refused spec', async () => {
    t = await startTestCoordinator();
    cacheDir = await mkdtemp(path.join(os.tmpdir(), 'crowdtrain-dlcache-'));
    const config = penguins();
    // Active (waiting for workers): the coordinator serves its data set.
    await t.coordinator.startRun(config);
    const local = (await loadDataset(config.dataset)).train;

    const downloader = new TrainSplitDownloader({ url: t.coordinator.url, cacheDir });
    const first = await downloader.load(config.dataset);
    expect(first.source).toBe('network');
    expect(first.dataset.features).toEqual(local.features);
    expect(first.dataset.labels).toEqual(local.labels);
    expect((await readdir(cacheDir)).sort().map((n) => path.extname(n))).toEqual(['.bin', '.etag']);

    const second = await new TrainSplitDownloader({ url: t.coordinator.url, cacheDir }).load(config.dataset);
    expect(second.source).toBe('cache');
    expect(second.dataset.labels).toEqual(local.labels);

    const bin = (await readdir(cacheDir)).find((n) => n.endsWith('.bin'))!;
    await writeFile(path.join(cacheDir, bin), 'not a dataset');
    const repaired = await downloader.load(config.dataset);
    expect(repaired.source).toBe('network');
    expect(repaired.dataset.features).toEqual(local.features);

    // A spec no active run trains is refused by the coordinator; the error names the URL and status.
    const other = { ...config.dataset, split: { test: 0.5, seed: 3 } } as typeof config.dataset;
    await expect(downloader.load(other)).rejects.toThrow(/dataset download of the csv train split from \/api\/v1\/datasets\/train at http:\/\/127\.0\.0\.1:\d+ failed with HTTP 404: dataset .* is not the data set of an active run/);

    // A second active data set through a cache that holds one split: the older entry is evicted.
    const config2 = { ...config, name: 'penguins-half', dataset: other };
    await t.coordinator.startRun(config2);
    const small = new TrainSplitDownloader({ url: t.coordinator.url, cacheDir, maxCacheBytes: first.bytes + 10 });
    expect((await small.load(config2.dataset)).source).toBe('network');
    expect((await readdir(cacheDir)).filter((n) => n.endsWith('.bin'))).toHaveLength(1);
    expect((await small.load(config2.dataset)).source).toBe('cache');
  });

  it(`two node worker processes train the penguins from the downloaded split to >= ${TARGET_ACCURACY}`, async () => {
    t = await startTestCoordinator();
    await t.joinWorkers(2);
    const session = await t.coordinator.startRun(penguins());
    expect((await session.done).status).toBe('finished');
    const acc = (await t.coordinator.store.getMetricHistory(session.runId, 'eval_accuracy')).map((p) => p.value);
    console.log(`penguins with worker processes: eval_accuracy ${acc.map((a) => a.toFixed(3)).join(' -> ')}`);
    expect(acc.at(-1)!).toBeGreaterThanOrEqual(TARGET_ACCURACY);
    // The workers' shared cache holds the one split they downloaded (only the downloader writes there).
    expect((await readdir(path.join(t.dataDir, 'dataset-cache'))).filter((n) => n.endsWith('.bin'))).toHaveLength(1);
  });
});
