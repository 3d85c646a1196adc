import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { Coordinator } from '../../../coordinator/coordinator.ts';
import { spawnLocalWorker, stopLocalWorkers } from '../../../coordinator/local-workers.ts';
import { openDatabase, defaultDatabaseUrl, type Database } from '../../../prisma/db.ts';
import type { RunConfigInput } from '../../../core/config/run-config.ts';

/** Which database the integration suite runs on: SQLite by default, PostgreSQL when TEST_POSTGRES_URL is set and CROWDTRAIN_TEST_DB=postgres. */
export function testDatabaseUrl(dataDir: string): string {
  if (process.env.CROWDTRAIN_TEST_DB === 'postgres') {
    const url = process.env.TEST_POSTGRES_URL;
    if (!url) throw new Error('CROWDTRAIN_TEST_DB=postgres needs TEST_POSTGRES_URL');
    return url;
  }
  return defaultDatabaseUrl(dataDir);
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
  /** Stops workers, closes the coordinator (checkpointing an active run) and the database. */
  stop(): Promise<void>;
  /** stop() and remove the temp dir. */
  cleanup(): Promise<void>;
}

/** Starts a coordinator for a test. Pass an existing dataDir to reopen a previous one (resume tests). */
export async function startTestCoordinator(opts: { dataDir?: string; token?: string; stepTimeoutMs?: number } = {}): Promise<TestCoordinator> {
  const dataDir = opts.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'crowdtrain-it-')));
  const db = await openDatabase({ url: testDatabaseUrl(dataDir) });
  const token = opts.token ?? randomBytes(18).toString('base64url');
  const coordinator = await Coordinator.start({ port: 0, host: '127.0.0.1', dataDir, db, workerToken: token });
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
        spawnLocalWorker(start + i, { url: coordinator.url, token, backend, output: process.env.CROWDTRAIN_TEST_WORKER_OUTPUT === '1' ? 'inherit' : 'ignore', namePrefix: 'it' }),
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
      await stopLocalWorkers(workers, 2000);
      await coordinator.close();
      await db.close();
    },
    async cleanup() {
      await t.stop();
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
