import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseRunConfig, validateRunConfig } from '../../core/config/run-config.ts';
import { loadDataset } from '../../core/data/dataset-spec.ts';
import { decodeDataset } from '../../core/data/dataset.ts';
import { datasetTrainUrl } from '../../core/data/dataset-route.ts';
import { installDatasetFileSource } from '../../core/data/csv/dataset-file-source.ts';
import { installNodeDatasetFiles } from '../../worker-node/node-dataset-files.ts';
import { startTestCoordinator, type TestCoordinator } from './support/harness.ts';
import { joinTestWorker, type TestWorker } from './support/test-worker.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHARDS = ['train_data_1.csv', 'train_data_2.csv', 'train_data_3.csv'].map((n) => path.join(ROOT, 'tests/fixtures/csv/loans', n));
/** Test accuracy the run must reach; the majority class ("decline") is 40% of the rows. */
const TARGET_ACCURACY = 0.75;

let t: TestCoordinator | null = null;
let workers: TestWorker[] = [];
// The coordinator and both test workers run in this process: one file source serves them all,
// relative paths resolved from the repository root (as under `npm start`).
beforeAll(() => installNodeDatasetFiles({ baseDir: ROOT }));
afterAll(() => installDatasetFileSource(null));
afterEach(async () => {
  await Promise.all((t?.coordinator.activeRuns() ?? []).map((r) => r.stop('stopped', 'test cleanup')));
  for (const w of workers) await w.close();
  workers = [];
  await t?.cleanup();
  t = null;
});

/** sha256 of the files as the csv dataset defines it, computed here from the bytes: the "<sha256>  <name>\n" manifest. */
function filesSha256(files: string[]): string {
  const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
  return sha(files.map((f) => `${sha(readFileSync(f))}  ${path.basename(f)}\n`).join(''));
}

describe('a run on a csv dataset', () => {
  it(`trains an MLP on the loans shards with 2 workers to >= ${TARGET_ACCURACY} test accuracy; the params pin the files' sha256; tabs get the encoded train split`, async () => {
    const example = parseRunConfig(readFileSync(path.join(ROOT, 'configs/loans-csv.yaml'), 'utf8'), 'configs/loans-csv.yaml');
    const sha256 = filesSha256(SHARDS);
    const config = validateRunConfig({
      ...example,
      dataset: { ...example.dataset, sha256 },
      total_updates: 60,
      batch_size: 32,
      global_batch_size: 64,
      min_workers: 2,
      eval_every: 30,
      checkpoint_every: 1000,
    });
    const local = await loadDataset(config.dataset);
    expect(local.csv?.sha256).toBe(sha256);
    expect([local.train.size, local.test.size, local.train.numClasses]).toEqual([1200, 300, 3]);

    t = await startTestCoordinator();
    const { url } = t.coordinator;
    workers = await Promise.all([0, 1].map((i) => joinTestWorker({ url, token: t!.token, name: `csv${i}` })));
    const session = await t.coordinator.startRun(config);

    // A tab downloads the train split the coordinator encodes from the same files.
    const res = await fetch(`${url}${datasetTrainUrl(config.dataset)}`);
    expect(res.status).toBe(200);
    const served = decodeDataset(new Uint8Array(await res.arrayBuffer()));
    expect(served.features).toEqual(local.train.features);
    expect(served.labels).toEqual(local.train.labels);

    const outcome = await session.done;
    expect(outcome.status).toBe('finished');
    const acc = (await t.coordinator.store.getMetricHistory(session.runId, 'eval_accuracy')).map((p) => p.value);
    const final = acc.at(-1)!;
    console.log(`csv run: eval_accuracy ${acc.map((a) => a.toFixed(3)).join(' -> ')}`);
    expect(final).toBeGreaterThanOrEqual(TARGET_ACCURACY);

    const params = await t.coordinator.store.getParams(session.runId);
    expect(params['dataset.name']).toBe('csv');
    expect(params['dataset.path']).toBe('tests/fixtures/csv/loans/train_data_*.csv');
    expect(params['dataset.sha256']).toBe(sha256);
    // The version it trained on, computed at start (MLflow's log_input): hash, files, rows, fitted transform.
    expect(params['dataset_info.sha256']).toBe(sha256);
    expect(Object.keys(params).some((k) => k.startsWith('dataset_info.transform'))).toBe(true);
  });

  it('refuses a run whose csv data is bad, naming the file, line and column', async () => {
    const example = parseRunConfig(readFileSync(path.join(ROOT, 'configs/loans-csv.yaml'), 'utf8'), 'configs/loans-csv.yaml');
    t = await startTestCoordinator();
    const bad = validateRunConfig({ ...example, dataset: { ...example.dataset, path: 'tests/fixtures/csv/loans/train_data_*.csv', columns: { applicant_id: 'ignore', region: 'numeric' } } });
    await expect(t.coordinator.startRun(bad)).rejects.toThrow(
      /^csv dataset: tests\/fixtures\/csv\/loans\/train_data_1\.csv line 2, column "region": "north" is not a number, and the column is declared numeric/,
    );
    expect(t.coordinator.activeRuns()).toEqual([]);
    // Refused before anything was recorded: no run row, no params.
    expect(await t.coordinator.store.listRuns({ take: 10 })).toEqual([]);
  });
});
