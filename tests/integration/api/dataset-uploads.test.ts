/**
 * Uploading your own tables over real HTTP: stored under the data dir only when the whole body
 * arrived within the limit and reads back as a table; refused uploads (bad names, ragged rows, an
 * empty file, too large, taken names, no token) leave nothing behind; an uploaded set of shards
 * trains with node worker processes that have no copy of the files, and the run records its
 * version with the files' digest.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRunConfig, validateRunConfig } from '../../../core/config/run-config.ts';
import { installDatasetFileSource } from '../../../core/data/csv/dataset-file-source.ts';
import { RunInputsSchema, UploadListSchema, UploadedTableSchema } from '../../../core/api/datasets.ts';
import { installNodeDatasetFiles } from '../../../worker-node/node-dataset-files.ts';
import { dropTestDatabase } from '../support/harness.ts';
import { startApiTestCoordinator, type ApiTestCoordinator } from './api-coordinator.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const LOANS = ['train_data_1.csv', 'train_data_2.csv', 'train_data_3.csv'].map((n) => path.join(ROOT, 'tests/fixtures/csv/loans', n));
/** The upload limit of this test's coordinator: the loans shards (about 22 KB each) fit, 64 KB does not. */
const LIMIT = 40_000;

let t: ApiTestCoordinator;

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

async function put(pathname: string, body: Buffer | string | ReadableStream<Uint8Array>, admin: boolean | string = true): Promise<{ status: number; json: { error?: { code: string; message: string } } & Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'text/csv' };
  if (admin === true) headers.authorization = `Bearer ${t.adminToken}`;
  const res = await fetch(`${t.baseUrl}${pathname}`, { method: 'PUT', headers, body, ...(body instanceof ReadableStream ? { duplex: 'half' } : {}) } as RequestInit);
  return { status: res.status, json: (await res.json()) as never };
}

/** Every file under the uploads dir, temporary ones included: what a refused upload must not leave. */
async function storedFiles(): Promise<string[]> {
  const root = path.join(t.dataDir, 'datasets');
  const folders = await readdir(root).catch(() => [] as string[]);
  const out: string[] = [];
  for (const f of folders) for (const n of await readdir(path.join(root, f))) out.push(`${f}/${n}`);
  return out.sort();
}

describe('table uploads', () => {
  beforeAll(async () => {
    installNodeDatasetFiles({ baseDir: ROOT });
    t = await startApiTestCoordinator({ maxUploadBytes: LIMIT });
  });
  afterAll(async () => {
    installDatasetFileSource(null);
    await t.cleanup();
    await dropTestDatabase(t.dataDir);
  });

  it('stores a table with its hash, rows and column kinds, and suggests a pinned dataset spec', async () => {
    const bytes = readFileSync(LOANS[0]!);
    const r = await put('/api/v1/datasets/uploads/loans/train_data_1.csv', bytes);
    expect(r.status).toBe(201);
    const up = UploadedTableSchema.parse(r.json);
    expect(up).toMatchObject({ folder: 'loans', file: 'train_data_1.csv', format: 'csv', bytes: bytes.length, sha256: sha(bytes), rows: 500 });
    expect(up.path).toBe(path.join(path.resolve(t.dataDir), 'datasets', 'loans', 'train_data_1.csv'));
    expect(readFileSync(up.path).equals(bytes)).toBe(true);
    const kind = Object.fromEntries(up.columns.map((c) => [c.name, c.kind]));
    expect(kind).toMatchObject({ applicant_id: 'numeric', income: 'numeric', region: 'categorical', outcome: 'categorical' });
    // A column with a usual label name is suggested as the label; sha256 pins these bytes.
    expect(up.spec).toEqual({ name: 'csv', path: up.path, label: 'outcome', sha256: sha(`${sha(bytes)}  train_data_1.csv\n`) });
    // A taken name is refused; ?overwrite=1 replaces it.
    const again = await put('/api/v1/datasets/uploads/loans/train_data_1.csv', bytes);
    expect(again.status).toBe(409);
    expect(again.json.error?.message).toMatch(/loans\/train_data_1\.csv is already uploaded \(PUT it with \?overwrite=1/);
    expect((await put('/api/v1/datasets/uploads/loans/train_data_1.csv?overwrite=1', bytes)).status).toBe(201);
    expect(await storedFiles()).toEqual(['loans/train_data_1.csv']);
  });

  it('refuses bad names, bad tables, oversized bodies and missing tokens, leaving nothing behind', async () => {
    const before = await storedFiles();
    const cases: [string, Buffer | string, number, RegExp][] = [
      ['/api/v1/datasets/uploads/loans/..%2Fescape.csv', 'a,b\n1,2\n', 400, /file name "\.\.\/escape\.csv" must be 1-128 letters/],
      ['/api/v1/datasets/uploads/loans/.hidden.csv', 'a,b\n1,2\n', 400, /not starting with a dot/],
      ['/api/v1/datasets/uploads/loans/model.exe', 'a,b\n1,2\n', 400, /must end in one of \.csv, \.tsv, \.json, \.jsonl, \.ndjson/],
      ['/api/v1/datasets/uploads/loans/ragged.csv', 'a,b,c\n1,2,3\n4,5\n', 400, /loans\/ragged\.csv line 3.*2 fields.*3/],
      ['/api/v1/datasets/uploads/loans/empty.csv', '', 400, /loans\/empty\.csv is empty/],
      ['/api/v1/datasets/uploads/loans/header-only.csv', 'a,b\n', 400, /loans\/header-only\.csv: the file has a header row but no data rows/],
      ['/api/v1/datasets/uploads/loans/big.csv', `a,b\n${'1,2\n'.repeat(16_000)}`, 413, /upload of 64004 bytes exceeds the limit of 40000 bytes \(--max-upload-mb\)/],
      ['/api/v1/datasets/uploads/loans/bad.json', '[{"a": 1}, {"a": {"nested": true}}]', 400, /loans\/bad\.json/],
      ['/api/v1/datasets/uploads/loans/x.csv?delimiter=%23', 'a,b\n1,2\n', 400, /invalid upload query: delimiter/],
    ];
    for (const [url, body, status, message] of cases) {
      const r = await put(url, body);
      expect(r.status, url).toBe(status);
      expect(r.json.error?.message, url).toMatch(message);
    }
    // A streamed body (no content-length) past the limit is cut at the limit: 413, nothing kept.
    const chunk = new TextEncoder().encode('1,2\n'.repeat(2500));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (sent++ < 5) ctl.enqueue(sent === 1 ? new TextEncoder().encode('a,b\n') : chunk);
        else ctl.close();
      },
    });
    const streamed = await put('/api/v1/datasets/uploads/loans/streamed.csv', stream);
    expect(streamed.status).toBe(413);
    expect(streamed.json.error?.message).toMatch(/loans\/streamed\.csv exceeds the limit of 40000 bytes/);
    expect((await put('/api/v1/datasets/uploads/loans/y.csv', 'a,b\n1,2\n', false)).status).toBe(401);
    expect(await storedFiles()).toEqual(before);
  });

  it('an uploaded set of shards trains with worker processes that have no copy of it; the run records its version', async () => {
    for (const f of LOANS.slice(1)) expect((await put(`/api/v1/datasets/uploads/loans/${path.basename(f)}`, readFileSync(f))).status).toBe(201);
    const list = UploadListSchema.parse(await (await t.call('GET', '/api/v1/datasets/uploads')).json());
    expect(list.uploads.map((u) => `${u.folder}/${u.file}`)).toEqual(['loans/train_data_1.csv', 'loans/train_data_2.csv', 'loans/train_data_3.csv']);

    const example = parseRunConfig(readFileSync(path.join(ROOT, 'configs/loans-csv.yaml'), 'utf8'), 'configs/loans-csv.yaml');
    const glob = path.join(path.resolve(t.dataDir), 'datasets', 'loans', 'train_data_*.csv');
    const config = validateRunConfig({ ...example, name: 'uploaded-loans', dataset: { ...example.dataset, path: glob }, total_updates: 40, min_workers: 2, eval_every: 20, checkpoint_every: 1000 });
    await t.joinWorkers(2);
    const session = await t.coordinator.startRun(config);
    expect((await session.done).status).toBe('finished');
    const acc = (await t.coordinator.store.getMetricHistory(session.runId, 'eval_accuracy')).map((p) => p.value);
    expect(acc.at(-1)!).toBeGreaterThan(0.6); // the majority class is 40%

    const inputs = RunInputsSchema.parse(await (await t.call('GET', `/api/v1/runs/${session.runId}/inputs`)).json()).inputs;
    const digest = sha(LOANS.map((f) => `${sha(readFileSync(f))}  ${path.basename(f)}\n`).join(''));
    expect(inputs[0]?.dataset).toMatchObject({ name: 'train_data', version: 1, digest });
  });
});
