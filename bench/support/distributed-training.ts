/**
 * The measured side of the step-overhead bench: a real Coordinator in this process (the integration
 * harness's: 127.0.0.1, port 0, temp dir and database) and real worker processes (worker-node/cli.ts), training a run
 * for a fixed number of updates, then stopping it. Records when each update was applied, the
 * per-step traffic and the tracking-store calls in the steady-state window (after the warm-up
 * updates). An optional hook runs synchronously right after each applied update, before the
 * coordinator assigns the next one: the bench runs its in-process baseline step there, so that
 * baseline and fleet steps alternate under the same machine load without competing for the CPU.
 */
import type { ChildProcess } from 'node:child_process';
import type { Coordinator } from '../../coordinator/coordinator.ts';
import type { AppliedUpdate, RunOutcome } from '../../coordinator/run/run-session.ts';
import type { RunConfig } from '../../core/config/run-config.ts';
import { startTestCoordinator } from '../../tests/integration/support/harness.ts';
import { tapCoordinatorTraffic } from './coordinator-traffic-tap.ts';
import { breakDownSteps, type StepBreakdown } from './step-breakdown.ts';
import { timeStoreCalls, type StoreCallTimes } from './store-call-timer.ts';

/** What to train and how long. */
export interface DistributedRunOptions {
  /** The run config; total_updates must exceed `updates` (the bench stops the run itself). */
  config: RunConfig;
  /** `--backend` of the worker processes. */
  workerBackend: string;
  /** Number of worker processes (global batch = batch_size x workers). */
  workers: number;
  /** Updates to observe; the run is stopped after this many. */
  updates: number;
  /** Leading updates left out of the steady-state window. */
  warmup: number;
  /**
   * Called synchronously after the k-th applied update (1-based), before the next step is assigned:
   * the fleet waits while it runs. Its duration shows up between consecutive `appliedAt` times.
   */
  afterUpdate?: (k: number, update: AppliedUpdate) => void;
}

/** What a distributed run showed. */
export interface DistributedRunResult {
  /** performance.now() at which each update 0..updates-1 was applied. */
  appliedAt: number[];
  /** Mean train loss of each update. */
  losses: number[];
  /** The sample indices of each update (all workers' slices, concatenated in assignment order). */
  batches: number[][];
  /** Per-step breakdown from the traffic seen by the coordinator (every observed update). */
  breakdown: StepBreakdown[];
  /** Tracking-store calls during the steady-state window (durations include any afterUpdate time they spanned). */
  storeCalls: StoreCallTimes;
  /** Worker spawn -> all joined, and startRun -> first update applied (ms). */
  startup: { workersJoinedMs: number; firstUpdateMs: number };
  /** The backends the workers reported in worker:hello. */
  workerBackends: string[];
  /** Workers that left (or lost their connection) while the run trained, with the coordinator's reason. */
  workerLeaves: { afterUpdates: number; workerId: string; reason: string }[];
}

/**
 * Collects `updates` applied updates, calling `onUpdate(k)` after the k-th (1-based); rejects if
 * the run ends or a worker process exits first.
 */
function collectUpdates(
  c: Coordinator,
  runId: string,
  updates: number,
  procs: readonly ChildProcess[],
  onUpdate: (k: number, u: AppliedUpdate) => void,
): Promise<AppliedUpdate[]> {
  return new Promise((resolve, reject) => {
    const seen: AppliedUpdate[] = [];
    const cleanup = () => {
      c.events.off('update', onApplied);
      c.events.off('run-ended', onEnded);
      for (const p of procs) p.off('exit', onExit);
    };
    const onApplied = (u: AppliedUpdate) => {
      if (u.runId !== runId) return;
      seen.push(u);
      try {
        onUpdate(seen.length, u);
      } catch (err) {
        cleanup();
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      if (seen.length >= updates) {
        cleanup();
        resolve(seen);
      }
    };
    const onEnded = (id: string, o: RunOutcome) => {
      if (id !== runId) return;
      cleanup();
      reject(new Error(`run ${runId} ended (${o.status}: ${o.reason}) after ${seen.length} of ${updates} updates`));
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`a bench worker process exited (${signal ?? code}) after ${seen.length} of ${updates} updates`));
    };
    c.events.on('update', onApplied);
    c.events.on('run-ended', onEnded);
    for (const p of procs) p.once('exit', onExit);
  });
}

/**
 * Starts a coordinator and workers, trains `updates` updates of `config`, stops the run and
 * tears everything down (worker processes, server, database, temp dir), also on failure.
 * @example const r = await runDistributedTraining({ config, workerBackend: 'cpu', workers: 1, updates: 20, warmup: 3 });
 */
export async function runDistributedTraining(opts: DistributedRunOptions): Promise<DistributedRunResult> {
  if (opts.config.total_updates <= opts.updates) {
    throw new Error(`total_updates ${opts.config.total_updates} must exceed the ${opts.updates} updates the bench observes (it stops the run itself)`);
  }
  if (!(opts.warmup >= 1 && opts.warmup < opts.updates)) throw new Error(`warm-up ${opts.warmup} must be in [1, ${opts.updates - 1}]`);
  // The integration harness's coordinator: 127.0.0.1, port 0, its own temp dir and database.
  const t = await startTestCoordinator({ workerNamePrefix: 'bench' });
  const c = t.coordinator;
  try {
    const tap = tapCoordinatorTraffic(c);
    const storeTimer = timeStoreCalls(c.store);
    try {
      const spawnedAt = performance.now();
      const procs = await t.joinWorkers(opts.workers, opts.workerBackend);
      const workersJoinedMs = performance.now() - spawnedAt;
      const workerBackends = c.workers().map((w) => w.backend);

      const appliedAt: number[] = [];
      const workerLeaves: DistributedRunResult['workerLeaves'] = [];
      c.events.on('worker-left', (workerId, reason) => workerLeaves.push({ afterUpdates: appliedAt.length, workerId, reason }));
      const runStartedAt = performance.now();
      const session = await c.startRun({ ...opts.config, min_workers: opts.workers });
      let storeCalls: StoreCallTimes = {};
      const updates = await collectUpdates(c, session.runId, opts.updates, procs, (k, u) => {
        appliedAt.push(performance.now());
        if (k === opts.warmup) storeTimer.start();
        else if (k === opts.updates) storeCalls = storeTimer.stop();
        opts.afterUpdate?.(k, u);
      });
      await session.stop('stopped', 'step-overhead bench done');
      tap.stop();
      return {
        appliedAt,
        losses: updates.map((u) => u.trainLoss),
        batches: updates.map((u) => u.slices.flatMap((s) => s.indices)),
        breakdown: breakDownSteps(tap.records()),
        storeCalls,
        startup: { workersJoinedMs, firstUpdateMs: (appliedAt[0] ?? Number.NaN) - runStartedAt },
        workerBackends,
        workerLeaves: workerLeaves.filter((l) => l.afterUpdates < opts.updates),
      };
    } finally {
      tap.stop();
      storeTimer.restore();
    }
  } finally {
    await t.cleanup();
  }
}
