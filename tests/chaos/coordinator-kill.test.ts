import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { validateRunConfig } from '../../core/config/run-config.ts';
import { spawnLocalWorker, stopLocalWorkers } from '../../coordinator/local-workers.ts';
import { openDatabase } from '../../prisma/db.ts';
import { TrackingStore } from '../../prisma/queries/tracking-store.ts';
import { startTestCoordinator, syntheticConfig, testDatabaseUrl } from '../integration/support/harness.ts';

const CLI = path.resolve('coordinator/cli.ts');
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await stopLocalWorkers(children.splice(0), 2000);
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts `npm start`'s CLI as a real process; resolves each awaited stdout pattern in order. */
function startCoordinatorProcess(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'start', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      const m = out.match(w.re);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    check();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    output: () => out,
    waitFor(re: RegExp): Promise<RegExpMatchArray> {
      return new Promise((resolve, reject) => {
        waiters.push({ re, resolve });
        check();
        void exited.then((code) => reject(new Error(`coordinator exited (${code}) before printing ${re}:\n${out}`)));
      });
    },
  };
}

describe('the coordinator killed with SIGKILL mid-run', () => {
  it('restarts with --resume, the workers reconnect by themselves, and the loss curve equals an uninterrupted run', async () => {
    // Equal slices: two timelines are compared to 1e-5, and throughput slices depend on timing (they
    // change the float32 summation order, not the math: see hetero-fleet.test.ts).
    const input = syntheticConfig({ total_updates: 24, checkpoint_every: 5, eval_every: 100, min_workers: 2, slice_balance: 'equal' });
    const config = validateRunConfig(input);

    // Reference: the same run, uninterrupted, in-process.
    const ref = await startTestCoordinator();
    dirs.push(ref.dataDir);
    await ref.joinWorkers(2);
    const refRun = await ref.coordinator.startRun(config);
    expect((await refRun.done).status).toBe('finished');
    const refLoss = (await ref.coordinator.store.getMetricHistory(refRun.runId, 'train_loss')).map((p) => p.value);
    await ref.stop();

    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'crowdtrain-kill-'));
    dirs.push(dataDir);
    const cfgFile = path.join(dataDir, 'run.yaml');
    await writeFile(cfgFile, stringify(input));
    const port = await freePort();
    const env = { CROWDTRAIN_TOKEN: 'chaos-token-0123456789abcdef', DATABASE_URL: await testDatabaseUrl(dataDir) };
    const common = ['--port', String(port), '--data-dir', dataDir, '--no-dashboard', '--local-workers', '0', '--exit-when-done'];

    const first = startCoordinatorProcess([...common, '--config', cfgFile], env);
    const [, runId] = await first.waitFor(/started run (\S+)/);
    for (let i = 0; i < 2; i++) {
      children.push(spawnLocalWorker(i, { url: `http://127.0.0.1:${port}`, token: env.CROWDTRAIN_TOKEN, backend: 'cpu', output: 'ignore', namePrefix: 'chaos' }));
    }
    await first.waitFor(/checkpoint at step 10 /);
    first.child.kill('SIGKILL');
    await first.exited;

    const second = startCoordinatorProcess([...common, '--resume', runId!], env);
    await second.waitFor(/resumed run/);
    const code = await second.exited;
    expect(code, second.output()).toBe(0);
    expect(second.output()).toMatch(/finished at step 24/);

    const db = await openDatabase({ url: env.DATABASE_URL });
    try {
      const store = new TrackingStore(db);
      const run = await store.getRun(runId!);
      expect(run?.status).toBe('finished');
      const points = await store.getMetricHistory(runId!, 'train_loss');
      expect(points.map((p) => p.step)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
      points.forEach((p, i) => expect(Math.abs(p.value - (refLoss[i] ?? NaN)), `step ${p.step}`).toBeLessThanOrEqual(1e-5));
      const kinds = (await store.listEvents(runId!)).map((e) => e.kind);
      expect(kinds).toContain('resumed');
    } finally {
      await db.close();
    }
  });

  it('SIGTERM checkpoints the active run, stops its local workers, and says how to resume', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'crowdtrain-term-'));
    dirs.push(dataDir);
    const cfgFile = path.join(dataDir, 'run.yaml');
    await writeFile(cfgFile, stringify(syntheticConfig({ total_updates: 100_000, checkpoint_every: 5, eval_every: 100_000 })));
    const env = { CROWDTRAIN_TOKEN: 'term-token-0123456789abcdef', DATABASE_URL: await testDatabaseUrl(dataDir) };
    const proc = startCoordinatorProcess(
      ['--port', '0', '--data-dir', dataDir, '--no-dashboard', '--local-workers', '1', '--worker-backend', 'cpu', '--config', cfgFile],
      env,
    );
    const [, runId] = await proc.waitFor(/started run (\S+)/);
    await proc.waitFor(/checkpoint at step 5 /);
    proc.child.kill('SIGTERM');
    const code = await proc.exited;
    expect(code, proc.output()).toBe(143);
    expect(proc.output()).toMatch(/checkpoint at step \d+ \(signal\)/);
    expect(proc.output()).toContain(`npm start -- --resume ${runId}`);
    const db = await openDatabase({ url: env.DATABASE_URL });
    try {
      const store = new TrackingStore(db);
      expect((await store.getRun(runId!))?.status).toBe('stopped');
      const latest = await store.findCheckpoint(runId!, 'latest');
      expect(latest?.step).toBeGreaterThanOrEqual(5);
    } finally {
      await db.close();
    }
  });
});
