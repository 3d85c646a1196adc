import { afterEach, describe, expect, it } from 'vitest';
import { validateRunConfig, type RunConfig } from '../../core/config/run-config.ts';
import type { AppliedUpdate } from '../../coordinator/run/run-session.ts';
import { WORKER_TASKS, type WorkerTask, type WorkerTaskRegistry } from '../../core/worker/tasks/index.ts';
import { startTestCoordinator, syntheticConfig, waitForWorkers, type TestCoordinator } from '../integration/support/harness.ts';
import { joinTestWorker, type TestWorker } from '../integration/support/test-worker.ts';
import { expectEveryEpochCoversEachSampleOnce } from '../integration/support/epoch-coverage.ts';
import { slowedTasks } from '../integration/support/slowed-tasks.ts';

const coordinators: TestCoordinator[] = [];
const workers: TestWorker[] = [];
afterEach(async () => {
  for (const w of workers.splice(0)) await w.close();
  for (const t of coordinators.splice(0)) await t.cleanup();
});

const TRAIN_SIZE = 288;
const UPDATES = 60;
/** 288 samples, a global batch of 96 (rounds of about 0.1 s, as in the issue): three updates per epoch; 30 updates are ten epochs. */
function config(totalUpdates = UPDATES): RunConfig {
  return validateRunConfig(
    syntheticConfig({
      name: 'silent-rejoiner',
      dataset: { name: 'synthetic', shape: [12], classes: 3, train_size: TRAIN_SIZE, test_size: 60, seed: 5 },
      optimizer: { name: 'sgd', lr: 0.1 },
      model: { type: 'mlp', hidden: [64] },
      global_batch_size: 96,
      total_updates: totalUpdates,
      min_workers: 2,
      eval_every: 1000,
      checkpoint_every: 1000,
      // What used to cost each round with a silent member: the whole step_timeout.
      step_timeout: '10s',
    }),
  );
}

/**
 * A worker task that takes its slice and never answers, until the connection drops (then it
 * throws, so the worker loop can go on to the next run:assign after a rejoin).
 */
function silentTasks(): { tasks: WorkerTaskRegistry; release(): void; held: () => number } {
  let waiting: (() => void)[] = [];
  let held = 0;
  const silent: WorkerTask = {
    ...(WORKER_TASKS.gradient as WorkerTask),
    run: () => {
      held += 1;
      return new Promise((_, reject) => waiting.push(() => reject(new Error('silent worker: connection dropped'))));
    },
  };
  return {
    tasks: { gradient: silent },
    release() {
      const w = waiting;
      waiting = [];
      for (const f of w) f();
    },
    held: () => held,
  };
}

interface Measured {
  rate: number;
  /**
   * The run's rate against its own typical round: updates x the median round time ÷ the whole
   * run's time (1 when no round was slower than the median). Measured within the one run, so the
   * shared machine's drift between runs does not enter it.
   */
  selfRatio: number;
  updates: AppliedUpdate[];
  params: Float32Array;
  runId: string;
  t: TestCoordinator;
}

/** One run on a fresh coordinator with two honest test workers (plus whatever `extra` adds); its updates/s from start to end. */
async function measure(extra?: (t: TestCoordinator) => Promise<void>, totalUpdates = UPDATES): Promise<Measured> {
  const t = await startTestCoordinator();
  coordinators.push(t);
  // Paced at 2 ms a sample (rounds of about 0.1 s, as in the issue): on a fast machine unpaced
  // rounds take ~15 ms, and the backup's 200 ms floor alone would then decide the ratio.
  for (let i = 0; i < 2; i++) workers.push(await joinTestWorker({ url: t.coordinator.url, token: t.token, name: `honest-${i}`, tasks: slowedTasks(2) }));
  await extra?.(t);
  const updates: AppliedUpdate[] = [];
  const at: number[] = [];
  t.coordinator.events.on('update', (u: AppliedUpdate) => {
    updates.push(u);
    at.push(performance.now());
  });
  const started = performance.now();
  const session = await t.coordinator.startRun(config(totalUpdates));
  const outcome = await session.done;
  expect(outcome.status).toBe('finished');
  expect(outcome.step).toBe(totalUpdates);
  // The whole run, its first round included (where a silent member first holds a slice).
  const seconds = (at.at(-1)! - started) / 1000;
  const rounds = at.map((x, i) => x - (i === 0 ? started : at[i - 1]!)).sort((a, b) => a - b);
  const median = rounds[Math.floor(rounds.length / 2)]!;
  return { rate: updates.length / seconds, selfRatio: (updates.length * median) / 1000 / seconds, updates, params: session.currentParams(), runId: session.runId, t };
}

describe('a silent member that takes its slice, never answers and rejoins', () => {
  it('keeps >= 70% of the clean rate: its slices are backed up, it is benched, shrunk, then a spare; the run stays DDP-equivalent', async () => {
    // An unmeasured first run warms the process up (tfjs kernels, socket and database code paths:
    // the first run was several times slower); then clean runs before and after the attacked one,
    // their mean rate the reference, as the shared machine's speed drifts.
    await measure(undefined, 10);
    const before = await measure();
    const silent = silentTasks();
    let attacker: TestWorker | null = null;
    const attacked = await measure(async (t) => {
      const w = await joinTestWorker({ url: t.coordinator.url, token: t.token, name: 'silent', tasks: silent.tasks, reconnection: true });
      attacker = w;
      workers.push(w);
      // It rejoins (socket.io reconnects, same workerId) whenever it is dropped, as after an eviction;
      // the slice it held is released then so its loop takes the next run:assign.
      const onDrop = async (): Promise<void> => {
        await w.nextEvent('disconnected');
        silent.release();
        void onDrop();
      };
      void onDrop();
      await waitForWorkers(t.coordinator, 3);
    });
    const rogue = attacker as TestWorker | null;
    if (!rogue) throw new Error('no attacker');
    const clean = await measure();
    const cleanRate = (before.rate + clean.rate) / 2;

    const ratio = attacked.rate / cleanRate;
    console.log(
      `silent rejoiner: clean ${before.rate.toFixed(1)} and ${clean.rate.toFixed(1)} updates/s, attacked ${attacked.rate.toFixed(1)} updates/s (${(100 * ratio).toFixed(0)}% of their mean)`,
    );
    expect(silent.held()).toBeGreaterThanOrEqual(1);
    // The bound, on the in-run measure (robust to machine drift: two clean runs in a row
    // differed by up to 2x here), and a looser bound across runs. Without backups and penalties the
    // attacked run waited out step_timeout (10 s) on each of its first rounds: both fail.
    console.log(`silent rejoiner: attacked run at ${(100 * attacked.selfRatio).toFixed(0)}% of its own median round rate (clean runs: ${(100 * before.selfRatio).toFixed(0)}%, ${(100 * clean.selfRatio).toFixed(0)}%)`);
    // Clean runs reach about 90% of their own median rate (rounds vary): the attacked run is compared with them.
    expect(attacked.selfRatio / ((before.selfRatio + clean.selfRatio) / 2)).toBeGreaterThanOrEqual(0.7);
    expect(ratio).toBeGreaterThanOrEqual(0.5);

    // Each sample once per epoch, and no slice ever counted twice.
    expectEveryEpochCoversEachSampleOnce(attacked.updates, TRAIN_SIZE, 10);
    for (const u of attacked.updates) {
      const idx = u.slices.flatMap((s) => s.indices);
      expect(idx).toHaveLength(96);
      expect(new Set(idx).size).toBe(96);
      expect(u.slices.every((s) => s.workerId !== rogue.workerId)).toBe(true);
    }
    // Backups answered every slice it held: the same global batches as the clean run, so the same
    // model (the float32 sums differ only in order).
    let worst = 0;
    for (let i = 0; i < clean.params.length; i++) worst = Math.max(worst, Math.abs(attacked.params[i]! - clean.params[i]!) / (Math.abs(clean.params[i]!) + 1e-3));
    expect(worst).toBeLessThan(1e-3);

    const events = await attacked.t.coordinator.store.listEvents(attacked.runId);
    const mine = events.filter((e) => e.workerId === rogue.workerId);
    // Every slice it was given was answered by a backup; each lost race is a strike: benched
    // 1, 2, 4 rounds with shrinking slices, then a spare for the rest of the run.
    const backups = events.filter((e) => e.kind === 'backup_answered');
    expect(backups.every((e) => (e.detail as { slowWorker?: string }).slowWorker === rogue.workerId)).toBe(true);
    const penalties = mine.filter((e) => e.kind === 'worker_penalised' || e.kind === 'worker_spare');
    expect(penalties.map((e) => (e.detail as { strikes: number }).strikes)).toEqual([1, 2, 3, 4]);
    expect(penalties.at(-1)?.kind).toBe('worker_spare');
    expect(backups).toHaveLength(4);
    expect(events.filter((e) => e.kind === 'backup_assigned')).toHaveLength(4);
    silent.release();
  });
});
