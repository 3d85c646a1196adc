import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';
import type { Database } from '../../../prisma/db.ts';
import { defaultDatabaseUrl, openDatabase, parseDatabaseUrl } from '../../../prisma/db.ts';
import { applyPendingMigrations, listMigrationsOnDisk, migrationStatus, pendingSchemaChange } from '../../../prisma/migrations.ts';
import { SCHEMA_LAYOUT, renderPostgresSchema } from '../../../prisma/postgres-schema.ts';
import { TrackingStore, flattenParams } from '../../../prisma/queries/tracking-store.ts';
import { HOW_TO_GET_POSTGRES, requireOrSkip } from '../../support/require-dependency.ts';

/** A fresh, empty database for one provider and the function that removes it. */
interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
}

async function scratchSqlite(): Promise<ScratchDatabase> {
  const dir = await mkdtemp(join(tmpdir(), 'crowdtrain-db-test-'));
  return { url: defaultDatabaseUrl(join(dir, 'nested', 'data')), drop: () => rm(dir, { recursive: true, force: true }) };
}

async function scratchPostgres(baseUrl: string): Promise<ScratchDatabase> {
  const name = `crowdtrain_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

async function expectCode(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, `expected a CrowdtrainError ${code}`).toBeInstanceOf(CrowdtrainError);
  expect((err as CrowdtrainError).code).toBe(code);
  if (message) expect((err as CrowdtrainError).message).toMatch(message);
}

const SHA = 'ab'.repeat(32);
const providers: { name: 'sqlite' | 'postgresql'; create: () => Promise<ScratchDatabase> }[] = [{ name: 'sqlite', create: scratchSqlite }];
const pgUrl = process.env.TEST_POSTGRES_URL;
if (pgUrl) providers.push({ name: 'postgresql', create: () => scratchPostgres(pgUrl) });
const postgres = requireOrSkip('PostgreSQL', pgUrl ? undefined : 'TEST_POSTGRES_URL is not set, so the "TrackingStore on postgresql" suite is left out too', HOW_TO_GET_POSTGRES);

describe('database URLs', () => {
  it('tells SQLite from PostgreSQL and names an unsupported scheme', () => {
    expect(parseDatabaseUrl('file:/tmp/x/crowdtrain.db')).toEqual({ provider: 'sqlite', url: 'file:/tmp/x/crowdtrain.db', filePath: '/tmp/x/crowdtrain.db' });
    expect(parseDatabaseUrl('postgres://u:p@127.0.0.1:5432/db').provider).toBe('postgresql');
    expect(parseDatabaseUrl('postgresql://u@127.0.0.1/db').provider).toBe('postgresql');
    expect(defaultDatabaseUrl('/srv/data')).toBe('file:/srv/data/crowdtrain.db');
    expect(() => parseDatabaseUrl('mysql://u:p@h/db')).toThrow(/scheme "mysql:" is not supported; supported: file: \(SQLite\), postgres:\/\/ or postgresql:\/\//);
    expect(() => parseDatabaseUrl('postgresql://u:secret@h:5432/')).toThrow(/names no database/);
    expect(() => parseDatabaseUrl('postgresql://u:secret@h:5432/')).not.toThrow(/secret/);
    expect(() => parseDatabaseUrl('file::memory:')).toThrow(/names no file/);
  });
});

describe('schema and migrations stay in step', () => {
  it('prisma/postgres/schema.prisma is generated from prisma/schema.prisma', async () => {
    const sqlite = await readFile(SCHEMA_LAYOUT.sqlite.schemaPath, 'utf8');
    const postgres = await readFile(SCHEMA_LAYOUT.postgresql.schemaPath, 'utf8');
    expect(postgres).toBe(renderPostgresSchema(sqlite));
  });

  it('both providers have the same migration folders', async () => {
    const sqlite = (await listMigrationsOnDisk('sqlite')).map((m) => m.name);
    const postgres = (await listMigrationsOnDisk('postgresql')).map((m) => m.name);
    expect(sqlite.length).toBeGreaterThan(0);
    expect(postgres).toEqual(sqlite);
  });

  it('replaying the SQLite history yields exactly the schema (no missing migration)', async () => {
    const scratch = await scratchSqlite();
    try {
      expect(await pendingSchemaChange(parseDatabaseUrl(scratch.url))).toBe('');
    } finally {
      await scratch.drop();
    }
  });

  it.skipIf(postgres.skip)(postgres.title('replaying the PostgreSQL history yields exactly the schema'), async () => {
    expect(await pendingSchemaChange(parseDatabaseUrl(pgUrl ?? ''))).toBe('');
  });
});

describe.each(providers)('TrackingStore on $name', ({ name: provider, create }) => {
  let scratch: ScratchDatabase;
  let db: Database;
  let store: TrackingStore;
  let experimentId: string;

  beforeAll(async () => {
    scratch = await create();
    const started = performance.now();
    db = await openDatabase({ url: scratch.url });
    console.info(`[db] ${provider}: cold openDatabase with migrations ${Math.round(performance.now() - started)} ms`);
    store = new TrackingStore(db);
    experimentId = (await store.ensureExperiment('mnist', 'digits')).id;
  });

  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  async function newRun(name = 'run', extra: { resumedFromRunId?: string } = {}) {
    return store.createRun({ experimentId, name, mode: 'ddp', config: { lr: 0.1, layers: [64, 10] }, seed: 7, totalUpdates: 100, ...extra });
  }

  it('opens the right provider and applies migrations idempotently', async () => {
    expect(db.provider).toBe(provider);
    const onDisk = await listMigrationsOnDisk(provider);
    const rows = await db.prisma.$queryRawUnsafe<{ migration_name: string }[]>('SELECT migration_name FROM _prisma_migrations');
    expect(rows.map((r) => r.migration_name).sort()).toEqual(onDisk.map((m) => m.name));

    // Again through openDatabase (fast path) and through the schema engine itself.
    await db.close();
    const started = performance.now();
    db = await openDatabase({ url: scratch.url });
    console.info(`[db] ${provider}: warm openDatabase (up to date) ${Math.round(performance.now() - started)} ms`);
    await db.close();
    expect(await applyPendingMigrations(parseDatabaseUrl(scratch.url))).toEqual([]);
    expect((await migrationStatus(parseDatabaseUrl(scratch.url))).history).toBeNull();
    db = await openDatabase({ url: scratch.url });
    store = new TrackingStore(db);
    const again = await db.prisma.$queryRawUnsafe<{ n: number | bigint }[]>('SELECT COUNT(*) AS n FROM _prisma_migrations');
    expect(Number(again[0]?.n)).toBe(onDisk.length);
    expect((await store.ensureExperiment('mnist')).id).toBe(experimentId); // data survived
    if (provider === 'sqlite') {
      const mode = await db.prisma.$queryRawUnsafe<{ journal_mode: string }[]>('PRAGMA journal_mode');
      expect(mode[0]?.journal_mode).toBe('wal');
    }
  });

  it('ensures experiments by name and creates, gets and lists runs', async () => {
    expect((await store.ensureExperiment('mnist', 'ignored')).id).toBe(experimentId);
    const other = await store.ensureExperiment('cifar');
    expect(other.id).not.toBe(experimentId);

    const run = await newRun('list-a');
    expect(run.status).toBe('queued');
    expect(run.step).toBe(0);
    expect(JSON.parse(run.config)).toEqual({ lr: 0.1, layers: [64, 10] });
    const resumed = await newRun('list-b', { resumedFromRunId: run.id });
    const got = await store.getRun(resumed.id);
    expect(got?.experiment.name).toBe('mnist');
    expect(got?.resumedFromRunId).toBe(run.id);
    expect(await store.getRun('no-such-run')).toBeNull();

    await store.createRun({ experimentId: other.id, name: 'c', mode: 'ddp', config: {}, seed: 1, totalUpdates: 5 });
    const mnistRuns = await store.listRuns({ experimentId });
    expect(mnistRuns.every((r) => r.experimentId === experimentId)).toBe(true);
    expect(mnistRuns.map((r) => r.id)).toEqual(expect.arrayContaining([run.id, resumed.id]));
    const page = await store.listRuns({ take: 1, skip: 0 });
    expect(page).toHaveLength(1);
    expect((await store.listRuns({ status: 'failed' })).length).toBe(0);

    await expectCode(store.createRun({ experimentId: 'missing', name: 'x', mode: 'ddp', config: {}, seed: 1, totalUpdates: 1 }), 'RUN_NOT_FOUND', /experiment missing/);
    await expectCode(
      store.createRun({ experimentId, name: 'x', mode: 'zero', config: {}, seed: 1, totalUpdates: 1 }),
      'INVALID_MESSAGE',
      /run mode "zero"/,
    );
    await expectCode(store.createRun({ experimentId, name: 'x', mode: 'ddp', config: {}, seed: 1.5, totalUpdates: 1 }), 'INVALID_MESSAGE', /seed.*1\.5/);
  });

  it('sets status timestamps and progress', async () => {
    const run = await newRun('status');
    const running = await store.setRunStatus(run.id, 'running');
    expect(running.startedAt).toBeInstanceOf(Date);
    expect(running.endedAt).toBeNull();
    const paused = await store.setRunStatus(run.id, 'paused');
    expect(paused.startedAt?.getTime()).toBe(running.startedAt?.getTime());
    const again = await store.setRunStatus(run.id, 'running');
    expect(again.startedAt?.getTime()).toBe(running.startedAt?.getTime());
    await store.setRunProgress(run.id, 42);
    const failed = await store.setRunStatus(run.id, 'failed', { error: 'worker pool empty for 60 s' });
    expect(failed.endedAt).toBeInstanceOf(Date);
    expect(failed.error).toBe('worker pool empty for 60 s');
    expect(failed.step).toBe(42);
    const restarted = await store.setRunStatus(run.id, 'running');
    expect(restarted.endedAt).toBeNull();
    expect(restarted.error).toBeNull();
    const finished = await store.setRunStatus(run.id, 'finished');
    expect(finished.endedAt).toBeInstanceOf(Date);

    await expectCode(store.setRunStatus('nope', 'running'), 'RUN_NOT_FOUND', /nope/);
    await expectCode(store.setRunProgress('nope', 1), 'RUN_NOT_FOUND');
    await expectCode(store.setRunProgress(run.id, -1), 'INVALID_MESSAGE', /-1/);
    await expectCode(store.setRunStatus(run.id, 'done' as 'finished'), 'INVALID_MESSAGE', /"done"/);
  });

  it('flattens params to dotted keys and upserts them', async () => {
    expect(flattenParams({ a: { b: { c: 1 } }, s: 'x', arr: [1, 'two'], n: null, u: undefined, e: {} })).toEqual([
      ['a.b.c', '1'],
      ['s', 'x'],
      ['arr', '[1,"two"]'],
      ['n', 'null'],
      ['e', '{}'],
    ]);
    const run = await newRun('params');
    await store.logParams(run.id, { optimizer: { name: 'adam', lr: 0.001, betas: [0.9, 0.999] }, batch_size: 64, shuffle: true });
    await store.logParams(run.id, { optimizer: { lr: 0.01 } });
    expect(await store.getParams(run.id)).toEqual({
      batch_size: '64',
      'optimizer.betas': '[0.9,0.999]',
      'optimizer.lr': '0.01',
      'optimizer.name': 'adam',
      shuffle: 'true',
    });
    await expectCode(store.logParams('nope', { a: 1 }), 'RUN_NOT_FOUND');
  });

  it('logs a 10k-point metric batch in one write and reads curves back in step order', async () => {
    const run = await newRun('metrics');
    const points = Array.from({ length: 10_000 }, (_, i) => ({
      key: i % 2 === 0 ? 'loss' : 'accuracy',
      step: 9_999 - i, // written out of order on purpose
      value: i % 2 === 0 ? 1 / (i + 1) : i / 10_000,
    }));
    const started = performance.now();
    await store.logMetrics(run.id, points);
    console.info(`[db] ${provider}: logMetrics 10k points ${Math.round(performance.now() - started)} ms`);
    const loss = await store.getMetricHistory(run.id, 'loss');
    expect(loss).toHaveLength(5_000);
    expect(loss.map((p) => p.step)).toEqual([...loss.map((p) => p.step)].sort((a, b) => a - b));
    expect(loss[0]).toMatchObject({ step: 1, value: 1 / 9_999 });
    expect(loss[0]?.time).toBeInstanceOf(Date);
    expect(await store.listMetricKeys(run.id)).toEqual(['accuracy', 'loss']);

    expect(await store.rewindMetrics(run.id, 4_999)).toBe(5_000);
    expect(await store.getMetricHistory(run.id, 'loss')).toHaveLength(2_500);
  });

  it('rejects a batch with a non-finite value and writes nothing of it', async () => {
    const run = await newRun('nonfinite');
    await store.logMetrics(run.id, [{ key: 'loss', step: 0, value: 2 }]);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      await expectCode(
        store.logMetrics(run.id, [
          { key: 'loss', step: 1, value: 1.5 },
          { key: 'loss', step: 2, value: bad },
          { key: 'loss', step: 3, value: 1.2 },
        ]),
        'NON_FINITE',
        new RegExp(`metric "loss" at step 2 has value ${String(bad)}`),
      );
    }
    expect(await store.getMetricHistory(run.id, 'loss')).toEqual([expect.objectContaining({ step: 0, value: 2 })]);
    await expectCode(store.logMetrics(run.id, [{ key: 'loss', step: 0.5, value: 1 }]), 'INVALID_MESSAGE', /step/);
    await expectCode(store.logMetrics('nope', [{ key: 'loss', step: 0, value: 1 }]), 'RUN_NOT_FOUND');
  });

  it('registers, touches and retires workers', async () => {
    const w = await store.upsertWorker({ id: 'w-1', kind: 'browser', backend: 'webgpu', deviceInfo: { vendor: 'google' }, userAgent: 'Chromium/156' });
    expect(w.leftAt).toBeNull();
    expect(JSON.parse(w.deviceInfo)).toEqual({ vendor: 'google' });
    expect(await store.touchWorker('w-1')).toBe(true);
    expect(await store.markWorkerLeft('w-1')).toBe(true);
    expect((await store.getWorker('w-1'))?.leftAt).toBeInstanceOf(Date);
    const back = await store.upsertWorker({ id: 'w-1', kind: 'browser', backend: 'wasm', deviceInfo: {}, name: 'tab' });
    expect(back.leftAt).toBeNull();
    expect(back.backend).toBe('wasm');
    expect(back.joinedAt.getTime()).toBe(w.joinedAt.getTime());
    expect(await store.touchWorker('ghost')).toBe(false);
    expect(await store.markWorkerLeft('ghost')).toBe(false);
    await expectCode(store.upsertWorker({ id: 'w-2', kind: 'phone' as 'node', backend: 'cpu', deviceInfo: {} }), 'INVALID_MESSAGE', /"phone"/);
  });

  it('adds contributions with atomic increments', async () => {
    const run = await newRun('contrib');
    await store.upsertWorker({ id: 'w-c', kind: 'node', backend: 'cpu', deviceInfo: null });
    await Promise.all(
      Array.from({ length: 20 }, () => store.addContribution(run.id, 'w-c', { steps: 1, samples: 64, bytesIn: 3_000_000_000, bytesOut: 10 })),
    );
    await store.addContribution(run.id, 'w-c', { rejected: 1, rejectReason: 'NON_FINITE: update has NaN' });
    const [c, ...rest] = await store.listContributions(run.id);
    expect(rest).toHaveLength(0);
    expect(c).toMatchObject({ workerId: 'w-c', steps: 20, samples: 1_280, bytesIn: 60_000_000_000, bytesOut: 200, rejected: 1 });
    expect(c?.lastRejectReason).toBe('NON_FINITE: update has NaN');
    expect(() => JSON.stringify(c)).not.toThrow();
    await expectCode(store.addContribution(run.id, 'w-c', { steps: -1 }), 'INVALID_MESSAGE', /steps.*-1/);
    await expectCode(store.addContribution(run.id, 'ghost', { steps: 1 }), 'RUN_NOT_FOUND', /worker ghost/);
  });

  it('records events with JSON details in time order', async () => {
    const run = await newRun('events');
    await store.recordEvent({ runId: run.id, workerId: 'never-registered', kind: 'worker_joined', detail: { backend: 'cpu' } });
    const err = Object.assign(new Error('update has 288 values, expected 72'), { code: 'SHAPE_MISMATCH' });
    await store.recordEvent({ runId: run.id, kind: 'update_rejected', detail: err });
    await store.recordEvent({ runId: run.id, kind: 'note' });
    await store.recordEvent({ kind: 'server_start', detail: { big: 12n } });
    const events = await store.listEvents(run.id);
    expect(events.map((e) => e.kind)).toEqual(['worker_joined', 'update_rejected', 'note']);
    expect(events[0]).toMatchObject({ workerId: 'never-registered', detail: { backend: 'cpu' } });
    expect(events[1]?.detail).toEqual({ name: 'Error', message: 'update has 288 values, expected 72', code: 'SHAPE_MISMATCH' });
    expect(events[2]?.detail).toBeNull();
    await expectCode(store.recordEvent({ runId: 'nope', kind: 'x' }), 'RUN_NOT_FOUND');
  });

  it('keeps exactly one latest and at most one best checkpoint per run', async () => {
    const run = await newRun('ckpt');
    const other = await newRun('ckpt-other');
    const add = (step: number, isBest?: boolean, metricValue?: number) =>
      store.addCheckpoint({ runId: run.id, step, path: `/ckpt/${step}.bin`, sha256: SHA, sizeBytes: 5_000_000_000, isBest, metricValue });
    await store.addCheckpoint({ runId: other.id, step: 1, path: '/o/1', sha256: SHA, sizeBytes: 1, isBest: true });
    expect(await store.findCheckpoint(run.id, 'latest')).toBeNull();
    await add(10, true, 0.5);
    await add(20);
    await add(30, true, 0.8);
    await add(40);
    const all = await store.listCheckpoints(run.id);
    expect(all.filter((c) => c.isLatest).map((c) => c.step)).toEqual([40]);
    expect(all.filter((c) => c.isBest).map((c) => c.step)).toEqual([30]);
    expect((await store.findCheckpoint(run.id, 'latest'))?.step).toBe(40);
    const best = await store.findCheckpoint(run.id, 'best');
    expect(best).toMatchObject({ step: 30, metricValue: 0.8, sizeBytes: 5_000_000_000, path: '/ckpt/30.bin' });
    expect((await store.findCheckpoint(run.id, 20))?.path).toBe('/ckpt/20.bin');
    expect(await store.findCheckpoint(run.id, 25)).toBeNull();
    // The other run's flags are untouched.
    expect((await store.findCheckpoint(other.id, 'best'))?.step).toBe(1);
    expect((await store.findCheckpoint(other.id, 'latest'))?.step).toBe(1);
    await expectCode(store.addCheckpoint({ runId: run.id, step: 1, path: '/x', sha256: 'xyz', sizeBytes: 1 }), 'INVALID_MESSAGE', /sha256 "xyz"/);
    await expectCode(store.addCheckpoint({ runId: 'nope', step: 1, path: '/x', sha256: SHA, sizeBytes: 1 }), 'RUN_NOT_FOUND');
  });

  it('creates, verifies and revokes API tokens, storing only their hash', async () => {
    const worker = await store.createApiToken('lab-gpu', 'worker');
    const admin = await store.createApiToken('ops', 'admin');
    expect(worker.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(worker.token).not.toBe(admin.token);

    const stored = await db.prisma.apiToken.findUniqueOrThrow({ where: { id: worker.id } });
    expect(stored.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored.hash).not.toContain(worker.token);
    expect(stored.lastUsedAt).toBeNull();

    expect(await store.verifyApiToken(worker.token)).toEqual({ id: worker.id, name: 'lab-gpu', scope: 'worker' });
    expect(await store.verifyApiToken(worker.token, 'worker')).not.toBeNull();
    expect(await store.verifyApiToken(worker.token, 'admin')).toBeNull();
    expect(await store.verifyApiToken(admin.token, 'worker')).toEqual({ id: admin.id, name: 'ops', scope: 'admin' });
    expect((await db.prisma.apiToken.findUniqueOrThrow({ where: { id: worker.id } })).lastUsedAt).toBeInstanceOf(Date);

    const tampered = (worker.token[0] === 'A' ? 'B' : 'A') + worker.token.slice(1);
    expect(await store.verifyApiToken(tampered)).toBeNull();
    expect(await store.verifyApiToken('')).toBeNull();

    expect(await store.revokeApiToken(worker.id)).toBe(true);
    expect(await store.revokeApiToken(worker.id)).toBe(true);
    expect(await store.verifyApiToken(worker.token)).toBeNull();
    expect(await store.verifyApiToken(admin.token)).not.toBeNull();
    expect(await store.revokeApiToken('no-such-token')).toBe(false);
  });
});
