import createDebug from 'debug';
import type { WorkerHandle } from '../run/worker-handle.ts';
import { placeWorkers, type PlacementRun, type PlacementWorker } from './placement.ts';

const debug = createDebug('crowdtrain:fleet');

/** What the scheduler needs from an active run (RunSession has it). */
export interface SchedulableRun {
  readonly runId: string;
  readonly config: { readonly priority: number; readonly min_workers: number; readonly max_workers: number | null; readonly worker_backends: readonly string[] | null };
  readonly isPaused: boolean;
  readonly isEnded: boolean;
  /** The most workers the run can hold results of at once (its result memory). */
  readonly memberCap: number;
  /** Offers the run to a worker; false when it could not join. */
  addWorker(handle: WorkerHandle): Promise<boolean>;
  /** Takes a member off the run without disconnecting it. */
  releaseWorker(workerId: string, reason: string): void;
  /** The worker disconnected or left. */
  removeWorker(workerId: string, reason: string): void;
}

/** A worker moved between runs (or to/from idle), for the coordinator's Events and live stats. */
export interface WorkerMove {
  workerId: string;
  from: string | null;
  to: string | null;
  reason: string;
}

/** How the scheduler reaches the fleet. */
export interface FleetSchedulerDeps {
  /** The connected worker's handle (null once it is gone). */
  handleFor(workerId: string): WorkerHandle | null;
  /** The connected worker's tfjs backend. */
  backendOf(workerId: string): string | null;
  /** Called for every move the scheduler makes. */
  onMove?(move: WorkerMove): void;
}

/**
 * Keeps the fleet placed over the active runs: holds who serves which run, who is pinned where,
 * and which (run, worker) pairs failed to join; after every change (a worker joins or leaves, a run
 * starts, pauses, continues or ends) it computes {@link placeWorkers} once per turn of the event
 * loop and performs the difference: `run:release` off the old run, `run:assign` of the new one —
 * the worker stays connected throughout. A worker on a paused run that no other run wants stays
 * with it (nothing to rebuild when it continues).
 */
export class FleetScheduler {
  private readonly runs = new Map<string, { run: SchedulableRun; order: number }>();
  private readonly workers = new Map<string, { pinnedRunId: string | null }>();
  /** workerId → the run it serves or is being offered. */
  private readonly serving = new Map<string, string>();
  /** runId → workers that failed to join it (not offered it again until they reconnect). */
  private readonly failed = new Map<string, Set<string>>();
  private nextOrder = 0;
  private scheduled = false;

  constructor(private readonly deps: FleetSchedulerDeps) {}

  /** The active runs, in start order. */
  activeRuns(): SchedulableRun[] {
    return [...this.runs.values()].map((e) => e.run);
  }

  /** The run a worker serves (or is being offered), or null while it is idle. */
  runOf(workerId: string): string | null {
    return this.serving.get(workerId) ?? null;
  }

  /** The run a worker is pinned to, or null. */
  pinOf(workerId: string): string | null {
    return this.workers.get(workerId)?.pinnedRunId ?? null;
  }

  /** A run started (or resumed): it gets workers at the next placement. */
  addRun(run: SchedulableRun): void {
    this.runs.set(run.runId, { run, order: this.nextOrder++ });
    this.schedule();
  }

  /** A run ended: its members (already sent `run:end`) are idle and go to other runs. */
  removeRun(runId: string): void {
    this.runs.delete(runId);
    this.failed.delete(runId);
    for (const [workerId, r] of this.serving) {
      if (r === runId) {
        this.serving.delete(workerId);
        this.deps.onMove?.({ workerId, from: runId, to: null, reason: 'the run ended' });
      }
    }
    this.schedule();
  }

  /** A worker said hello (pinned to a run or not). */
  workerJoined(workerId: string, pinnedRunId: string | null): void {
    this.workers.set(workerId, { pinnedRunId });
    this.schedule();
  }

  /** A worker disconnected or left: its run hands its slice back; its failed joins are forgotten. */
  workerLeft(workerId: string, reason: string): void {
    this.workers.delete(workerId);
    for (const set of this.failed.values()) set.delete(workerId);
    const runId = this.serving.get(workerId);
    this.serving.delete(workerId);
    if (runId) this.runs.get(runId)?.run.removeWorker(workerId, reason);
    this.schedule();
  }

  /** A run paused or continued (or its limits changed): placement is computed again. */
  runChanged(): void {
    this.schedule();
  }

  /** Coalesces placement requests into one per turn of the event loop. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.rebalance();
    });
  }

  /** Computes the placement now and performs the moves. */
  rebalance(): void {
    const runs: PlacementRun[] = [...this.runs.values()].map(({ run, order }) => ({
      id: run.runId,
      priority: run.config.priority,
      minWorkers: run.config.min_workers,
      maxWorkers: run.config.max_workers === null ? run.memberCap : Math.min(run.config.max_workers, run.memberCap),
      order,
      accepting: !run.isPaused && !run.isEnded,
      canServe: (workerId) => this.canServe(run, workerId),
    }));
    const workers: PlacementWorker[] = [...this.workers].map(([id, w]) => ({ id, runId: this.serving.get(id) ?? null, pinnedRunId: w.pinnedRunId }));
    const placed = placeWorkers(runs, workers);
    for (const [workerId, target] of placed) {
      const current = this.serving.get(workerId) ?? null;
      if (current === target) continue;
      const from = current === null ? undefined : this.runs.get(current)?.run;
      // Nothing else wants a worker of a paused run: it stays.
      if (target === null && from?.isPaused) continue;
      const reason = target === null ? (from?.isPaused ? 'the run paused' : 'the run is at its max_workers') : `moved to run ${target}`;
      if (from) {
        from.releaseWorker(workerId, reason);
        this.serving.delete(workerId);
      }
      if (target !== null) this.offer(workerId, target);
      debug('worker %s: %s -> %s (%s)', workerId, current, target, reason);
      this.deps.onMove?.({ workerId, from: current, to: target, reason });
    }
  }

  private canServe(run: SchedulableRun, workerId: string): boolean {
    if (this.failed.get(run.runId)?.has(workerId)) return false;
    const allowed = run.config.worker_backends;
    if (allowed === null) return true;
    const backend = this.deps.backendOf(workerId);
    return backend !== null && allowed.includes(backend);
  }

  private offer(workerId: string, runId: string): void {
    const entry = this.runs.get(runId);
    const handle = this.deps.handleFor(workerId);
    if (!entry || !handle) return;
    this.serving.set(workerId, runId);
    void entry.run.addWorker(handle).then((ok) => {
      if (ok || this.serving.get(workerId) !== runId) return;
      // It could not build this run (its reason is recorded as join_failed): try it elsewhere.
      this.serving.delete(workerId);
      let set = this.failed.get(runId);
      if (!set) this.failed.set(runId, (set = new Set()));
      set.add(workerId);
      this.deps.onMove?.({ workerId, from: runId, to: null, reason: 'it could not join the run' });
      this.schedule();
    });
  }
}
