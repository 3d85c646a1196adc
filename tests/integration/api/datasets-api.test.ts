/**
 * Data set versions over real HTTP and the real database: every run the coordinator starts logs
 * its data set as an input (MLflow's log_input), versions are numbered by content digest, and the
 * list, detail and run-input routes show them; the MLflow `runs/log-inputs` route records the
 * inputs of external runs and refuses bad ones with nothing written.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRunConfig, validateRunConfig } from '../../../core/config/run-config.ts';
import { installDatasetFileSource } from '../../../core/data/csv/dataset-file-source.ts';
import { DatasetDetailSchema, DatasetListSchema, RunInputsSchema } from '../../../core/api/datasets.ts';
import { installNodeDatasetFiles } from '../../../worker-node/node-dataset-files.ts';
import { dropTestDatabase, syntheticConfig } from '../support/harness.ts';
import { startApiTestCoordinator, type ApiTestCoordinator } from './api-coordinator.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const LOANS = ['train_data_1.csv', 'train_data_2.csv', 'train_data_3.csv'].map((n) => path.join(ROOT, 'tests/fixtures/csv/loans', n));

/** The csv data set's digest computed here from the files' bytes: SHA-256 of the "<sha256>  <name>\n" manifest. */
function filesSha256(files: string[]): string {
  const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
  return sha(files.map((f) => `${sha(readFileSync(f))}  ${path.basename(f)}\n`).join(''));
}

let t: ApiTestCoordinator;

async function getJson(pathname: string): Promise<{ status: number; body: unknown }> {
  const res = await t.call('GET', pathname);
  return { status: res.status, body: (await res.json()) as unknown };
}

/** Starts a run (it waits for workers, none come) and stops it: what is left is what its start recorded. */
async function startAndStop(config: ReturnType<typeof validateRunConfig>): Promise<string> {
  const session = await t.coordinator.startRun(config);
  await session.stop('stopped', 'test: only its records are checked');
  return session.runId;
}

async function mlflow(pathname: string, body: unknown): Promise<{ status: number; body: { error_code?: string; message?: string; run?: { inputs: { dataset_inputs?: { tags: { key: string; value: string }[]; dataset: Record<string, string> }[] } } } }> {
  const res = await t.call('POST', `/api/2.0/mlflow/${pathname}`, { body, admin: true });
  return { status: res.status, body: (await res.json()) as never };
}

describe('data set versions', () => {
  beforeAll(async () => {
    installNodeDatasetFiles({ baseDir: ROOT });
    t = await startApiTestCoordinator();
  });
  afterAll(async () => {
    installDatasetFileSource(null);
    await t.cleanup();
    await dropTestDatabase(t.dataDir);
  });

  it('each run logs its data set version; the same data is the same version, other data a new one; the routes list them', async () => {
    const a = await startAndStop(validateRunConfig(syntheticConfig({ name: 'ds-a' })));
    const b = await startAndStop(validateRunConfig(syntheticConfig({ name: 'ds-b', seed: 99 }))); // another model seed, the same data
    const base = syntheticConfig();
    const c = await startAndStop(validateRunConfig(syntheticConfig({ name: 'ds-c', dataset: { ...(base.dataset as object), seed: 6 } as never })));
    const example = parseRunConfig(readFileSync(path.join(ROOT, 'configs/loans-csv.yaml'), 'utf8'), 'configs/loans-csv.yaml');
    const loans = await startAndStop(validateRunConfig({ ...example, name: 'ds-loans', min_workers: 1 }));

    const inputsOf = async (runId: string) => {
      const r = await getJson(`/api/v1/runs/${runId}/inputs`);
      expect(r.status).toBe(200);
      return RunInputsSchema.parse(r.body).inputs;
    };
    const [ia, ib, ic, il] = await Promise.all([a, b, c, loans].map(inputsOf));
    for (const inputs of [ia, ib, ic, il]) expect(inputs!.map((i) => i.context)).toEqual(['training']);
    expect(ia![0]!.dataset).toMatchObject({ name: 'synthetic', version: 1, sourceType: 'builtin' });
    expect(ib![0]!.dataset.id).toBe(ia![0]!.dataset.id);
    expect(ic![0]!.dataset).toMatchObject({ name: 'synthetic', version: 2 });
    expect(ic![0]!.dataset.digest).not.toBe(ia![0]!.dataset.digest);
    expect(ia![0]!.dataset.digest).toMatch(/^[0-9a-f]{64}$/);

    // The csv version is the files' content hash, computed here independently from the bytes.
    const csv = il![0]!.dataset;
    expect(csv).toMatchObject({ name: 'train_data', version: 1, sourceType: 'local', digest: filesSha256(LOANS) });
    expect(csv.source).toMatchObject({ path: 'tests/fixtures/csv/loans/train_data_*.csv' });
    expect((csv.schema as { label: string }).label).toBe('outcome');
    const profile = csv.profile as { rows: { train: number; test: number }; classes: { name: string; train: number; test: number }[] };
    expect(profile.rows).toEqual({ train: 1200, test: 300 });
    expect(profile.classes.map((k) => k.name)).toEqual(['approve', 'decline', 'review']);
    expect(profile.classes.reduce((n, k) => n + k.train, 0)).toBe(1200);
    expect(profile.classes.reduce((n, k) => n + k.test, 0)).toBe(300);

    const list = await getJson('/api/v1/datasets');
    expect(list.status).toBe(200);
    const datasets = DatasetListSchema.parse(list.body).datasets;
    expect(datasets.map((d) => [d.name, d.versionCount, d.runCount, d.latest?.version])).toEqual([
      ['synthetic', 2, 3, 2],
      ['train_data', 1, 1, 1],
    ]);

    const synthetic = datasets.find((d) => d.name === 'synthetic')!;
    const detail = await getJson(`/api/v1/datasets/${synthetic.id}`);
    expect(detail.status).toBe(200);
    const versions = DatasetDetailSchema.parse(detail.body).versions;
    expect(versions.map((v) => v.version)).toEqual([2, 1]);
    expect(versions[1]!.runs.map((r) => r.runName).sort()).toEqual(['ds-a', 'ds-b']);
    expect(versions[0]!.runs.map((r) => [r.runName, r.status, r.context])).toEqual([['ds-c', 'stopped', 'training']]);

    // Bad ids: a malformed one is 400, an unknown one 404; /datasets/train stays the train-split download.
    expect((await getJson('/api/v1/datasets/NOT-AN-ID')).status).toBe(400);
    const unknown = await getJson('/api/v1/datasets/zzzzzzzzzzzzzzzz');
    expect(unknown.status).toBe(404);
    expect(JSON.stringify(unknown.body)).toMatch(/no dataset with id zzzzzzzzzzzzzzzz/);
    const train = await getJson('/api/v1/datasets/train');
    expect(train.status).toBe(400);
    expect(JSON.stringify(train.body)).toMatch(/needs a \?spec= query/);
    expect((await getJson('/api/v1/runs/nope/inputs')).status).toBe(404);
  });

  it('MLflow runs/log-inputs records an external run\'s datasets, runs/get shows them, and a bad batch writes nothing', async () => {
    const exp = await mlflow('experiments/create', { name: 'inputs-exp' });
    const created = await mlflow('runs/create', { experiment_id: (exp.body as { experiment_id?: string }).experiment_id, run_name: 'external-inputs' });
    const runId = (created.body.run as unknown as { info: { run_id: string } }).info.run_id;
    const dataset = { name: 'penguins-mlflow', digest: 'abc123', source_type: 'http', source: '{"url": "https://example.org/penguins.csv"}', schema: '{"mlflow_colspec": []}' };

    const before = DatasetListSchema.parse((await getJson('/api/v1/datasets')).body).datasets.length;
    // The second input has no digest: the whole call is refused, naming it, and nothing is written.
    const bad = await mlflow('runs/log-inputs', { run_id: runId, datasets: [{ dataset }, { dataset: { ...dataset, name: 'other', digest: '' } }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error_code).toBe('INVALID_PARAMETER_VALUE');
    expect(bad.body.message).toMatch(/datasets\.1\.dataset\.digest.*must not be empty/);
    const long = await mlflow('runs/log-inputs', { run_id: runId, datasets: [{ dataset: { ...dataset, name: 'n'.repeat(501) } }] });
    expect(long.status).toBe(400);
    expect(long.body.message).toMatch(/datasets\.0: dataset input 0: name is 501 characters, over the limit of 500/);
    expect(DatasetListSchema.parse((await getJson('/api/v1/datasets')).body).datasets.length).toBe(before);
    expect((await mlflow('runs/log-inputs', { run_id: 'nope', datasets: [{ dataset }] })).body.error_code).toBe('RESOURCE_DOES_NOT_EXIST');

    const ok = await mlflow('runs/log-inputs', {
      run_id: runId,
      datasets: [
        { tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset },
        { tags: [{ key: 'mlflow.data.context', value: 'evaluation' }], dataset: { ...dataset, digest: 'def456' } },
      ],
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({});
    // Logging the same input again changes nothing.
    expect((await mlflow('runs/log-inputs', { run_id: runId, datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset }] })).status).toBe(200);

    const res = await t.call('GET', `/api/2.0/mlflow/runs/get?run_id=${runId}`);
    const run = ((await res.json()) as { run: { inputs: { dataset_inputs: { tags: { key: string; value: string }[]; dataset: Record<string, string> }[] } } }).run;
    const byContext = (x: { tags: { value: string }[] }, y: { tags: { value: string }[] }) => (x.tags[0]!.value < y.tags[0]!.value ? -1 : 1);
    expect([...run.inputs.dataset_inputs].sort(byContext)).toEqual([
      { tags: [{ key: 'mlflow.data.context', value: 'evaluation' }], dataset: { ...dataset, digest: 'def456' } },
      { tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset },
    ]);
    const penguins = DatasetListSchema.parse((await getJson('/api/v1/datasets')).body).datasets.find((d) => d.name === 'penguins-mlflow')!;
    expect([penguins.versionCount, penguins.runCount]).toEqual([2, 2]);
  });

  it('concurrent first uses of one new digest make one version; of distinct digests, distinct numbers', async () => {
    const { store } = t.coordinator;
    const exp = await store.ensureExperiment('inputs-race');
    const runs = await Promise.all(
      Array.from({ length: 6 }, (_, i) => store.createExternalRun({ experimentId: exp.id, name: `race-${i}`, config: { external: true } })),
    );
    const same = { name: 'race-same', digest: 'd1', sourceType: 'local', source: '{}' };
    const logged = await Promise.all(runs.map((r) => store.logRunInputs(r.id, [same])));
    expect(new Set(logged.map((l) => l[0]!.dataset.id)).size).toBe(1);
    expect(logged[0]![0]!.dataset.version).toBe(1);

    const distinct = await Promise.all(runs.map((r, i) => store.logRunInputs(r.id, [{ name: 'race-distinct', digest: `d${i}`, sourceType: 'local', source: '{}' }])));
    expect(distinct.map((l) => l.find((x) => x.dataset.name === 'race-distinct')!.dataset.version).sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
