import type { ConnectionLimits } from '../../../coordinator/fleet/connection-guard.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import type { ChildProcess } from 'node:child_process';
import { Coordinator } from '../../../coordinator/coordinator.ts';
import { spawnLocalWorker, stopLocalWorkers } from '../../../coordinator/local-workers.ts';
import { openDatabase, defaultDatabaseUrl, type Database } from '../../../prisma/db.ts';
import type { RunConfigInput } from '../../../core/config/run-config.ts';
import type { ModeRegistry } from '../../../core/run/training-mode.ts';

/**
 * The database URL for a test's data dir: a SQLite file inside it by default; with
 * CROWDTRAIN_TEST_DB=postgres (and TEST_POSTGRES_URL), a PostgreSQL database of its own, named after
 * the data dir and created on first use, so tests never see each other's runs.
 */
export async function testDatabaseUrl(dataDir: string): Promise<string> {
  if (process.env.CROWDTRAIN_TEST_DB !== 'postgres') return defaultDatabaseUrl(dataDir);
  const base = process.env.TEST_POSTGRES_URL;
  if (!base) throw new Error('CROWDTRAIN_TEST_DB=postgres needs TEST_POSTGRES_URL');
  const name = postgresTestDatabaseName(dataDir);
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drops the PostgreSQL database testDatabaseUrl made for a data dir (no-op on SQLite). */
export async function dropTestDatabase(dataDir: string): Promise<void> {
  const base = process.env.TEST_POSTGRES_URL;
  if (process.env.CROWDTRAIN_TEST_DB !== 'postgres' || !base) return;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.query(`DROP DATABASE IF EXISTS "${postgresTestDatabaseName(dataDir)}" WITH (FORCE)`);
        return;
      } catch (err) {
        // WITH (FORCE) may not terminate a superuser's backend, such as an autovacuum worker that has
        // just started on the new database (42501, insufficient privilege); it ends within moments.
        if ((err as { code?: string }).code !== '42501' || attempt >= 40) throw err;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  } finally {
    await admin.end();
  }
}

function postgresTestDatabaseName(dataDir: string): string {
  return `ct_it_${createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 16)}`;
}

/** A coordinator on a free loopback port with its own temp data dir and database. */
export interface TestCoordinator {
  coordinator: Coordinator;
  db: Database;
  dataDir: string;
  token: string;
  workers: ChildProcess[];
  /** Spawns n real worker processes (node + tsx running worker-node/cli.ts). */
  spawnWorkers(n: number, backend?: string): ChildProcess[];
  /** Spawns n workers and waits until all have joined (fails fast if one crashes). */
  joinWorkers(n: number, backend?: string): Promise<ChildProcess[]>;
  /** Closes the coordinator (checkpointing an active run), then stops the workers and the database. */
  stop(): Promise<void>;
  /** stop() and remove the temp dir. */
  cleanup(): Promise<void>;
}

/**
 * Starts a coordinator for a test (or a bench) on 127.0.0.1, port 0, with its own database. Pass an
 * existing dataDir to reopen a previous one (resume tests); `workerNamePrefix` names spawned workers;
 * `modes` replaces the built-in mode registry (a test that adds a mode); `maxActiveRuns` lowers the active-run limit; `connectionLimits` lowers the worker connection caps.
 */
export async function startTestCoordinator(
  opts: { dataDir?: string; token?: string; workerNamePrefix?: string; modes?: ModeRegistry; maxActiveRuns?: number; resultMemoryBytes?: number; connectionLimits?: Partial<ConnectionLimits> } = {},
): Promise<TestCoordinator> {
  const dataDir = opts.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'crowdtrain-it-')));
  const db = await openDatabase({ url: await testDatabaseUrl(dataDir) });
  const token = opts.token ?? randomBytes(18).toString('base64url');
  const coordinator = await Coordinator.start({ port: 0, host: '127.0.0.1', dataDir, db, workerToken: token, modes: opts.modes, maxActiveRuns: opts.maxActiveRuns, resultMemoryBytes: opts.resultMemoryBytes, connectionLimits: opts.connectionLimits });
  const workers: ChildProcess[] = [];
  let stopped = false;
  const t: TestCoordinator = {
    coordinator,
    db,
    dataDir,
    token,
    workers,
    spawnWorkers(n, backend = 'cpu') {
      const start = workers.length;
      const made = Array.from({ length: n }, (_, i) =>
        spawnLocalWorker(start + i, { url: coordinator.url, token, backend, output: process.env.CROWDTRAIN_TEST_WORKER_OUTPUT === '1' ? 'inherit' : 'ignore', namePrefix: opts.workerNamePrefix ?? 'it', cacheDir: path.join(dataDir, 'dataset-cache') }),
      );
      workers.push(...made);
      return made;
    },
    async joinWorkers(n, backend = 'cpu') {
      const before = coordinator.workers().length;
      const made = t.spawnWorkers(n, backend);
      await waitForWorkers(coordinator, before + n, made);
      return made;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      // The coordinator first, with its workers still attached: a shutdown checkpoints the run where
      // it stands. Workers stopped first would leave mid-round, and the coordinator would apply that
      // round with only the slices it still got (correct elastic training, but not the run an
      // uninterrupted one can be compared with).
      await coordinator.close();
      await stopLocalWorkers(workers, 2000);
      await db.close();
    },
    async cleanup() {
      await t.stop();
      await dropTestDatabase(dataDir);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return t;
}

/**
 * Resolves when the coordinator has `n` workers connected; rejects as soon as one of `procs`
 * exits first (a crashed worker must fail the test, not hang it).
 */
export function waitForWorkers(c: Coordinator, n: number, procs: ChildProcess[] = []): Promise<void> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, signal: string | null) => {
      done();
      reject(new Error(`a worker process exited (${signal ?? code}) before ${n} workers joined`));
    };
    const done = () => {
      c.events.off('worker-joined', check);
      for (const p of procs) p.off('exit', onExit);
    };
    const check = () => {
      if (c.workers().length >= n) {
        done();
        resolve();
      }
    };
    for (const p of procs) p.once('exit', onExit);
    c.events.on('worker-joined', check);
    check();
  });
}

/** A small, fast config on synthetic data for integration tests. */
export function syntheticConfig(over: Partial<RunConfigInput> = {}): RunConfigInput {
  return {
    name: 'it-synthetic',
    experiment: 'integration',
    seed: 11,
    model: { type: 'mlp', hidden: [16] },
    dataset: { name: 'synthetic', shape: [12], classes: 3, train_size: 240, test_size: 60, seed: 5 },
    optimizer: { name: 'adam', lr: 0.01 },
    batch_size: 8,
    total_updates: 30,
    eval_every: 10,
    checkpoint_every: 10,
    min_workers: 1,
    step_timeout: '60s',
    ...over,
  };
}
