import createDebug from 'debug';
import type { RunProgress as ApiRunProgress } from '../../core/api/stream.ts';
import type { RunStatus, TrackingStore } from '../../prisma/queries/tracking-store.ts';
import { MetricBuffer, type MetricPoint } from './metric-buffer.ts';
import { SystemMetricSampler, type SystemMetricSamplerOptions } from '../metrics/system-metrics.ts';
import { sampleWeightedMean } from '../../core/run/sample-weighted-mean.ts';

/** The update path writes contribution counters at most this often. */
const CONTRIBUTION_FLUSH_MS = 1000;

const debug = createDebug('crowdtrain:recorder');

/**
 * A live view of a run, for the status API, the run stream and the CLI progress line: the REST
 * schema's fields (`core/api/stream.ts`), with the start time as a Date, and the coordinator's
 * event-loop delay p99 over the last system-metric window (in ms; absent before the first).
 */
export type RunProgress = Omit<ApiRunProgress, 'startedAt'> & { startedAt: Date; eventLoopP99Ms?: number };

/** Longest a logged metric point waits in memory before it is written, in ms. */
export const METRIC_FLUSH_EVERY_MS = 1000;
/**
 * Buffered points that trigger a write before {@link METRIC_FLUSH_EVERY_MS}. One write is one
 * `createMany`, which holds the event loop on SQLite (a synchronous driver) for its whole
 * duration: 100 points keep that to about 10-25 ms, where 500 took 50-150 ms on a loaded machine
 * and pushed a fast run's event-loop p99 near 100 ms on their own.
 */
export const METRIC_FLUSH_POINTS = 100;

/** Per-worker counters accumulated between writes. */
export interface ContributionDelta {
  steps?: number;
  samples?: number;
  bytesIn?: number;
  bytesOut?: number;
}

/** Where a recorder reports live (no database read needed). */
export interface RecorderListeners {
  onProgress?: (p: RunProgress) => void;
  onMetrics?: (runId: string, points: MetricPoint[]) => void;
}

/**
 * Everything a run session writes about itself: metric points (batched: one insert per second,
 * or per {@link METRIC_FLUSH_POINTS} points when sooner), events, per-worker contribution
 * counters (accumulated in memory and written off the critical path), the run's status and step,
 * the live progress snapshot, and the coordinator's system metrics (event-loop delay, `sys/...`
 * keys, logged with the updates: see {@link SystemMetricSampler}). No training logic.
 */
export class RunRecorder {
  /** The live progress snapshot (the session updates its fields, then calls {@link emitProgress}). */
  readonly progress: RunProgress;
  private readonly metricBuffer: MetricBuffer;
  private readonly deltas = new Map<string, Required<ContributionDelta>>();
  private contributionWrites: Promise<void> = Promise.resolve();
  private lastContributionFlush = -Infinity;
  private readonly system: SystemMetricSampler;

  constructor(
    private readonly store: TrackingStore,
    private readonly runId: string,
    init: { name: string; totalUpdates: number },
    private readonly listeners: RecorderListeners = {},
    /** Live active-worker count (read at each snapshot). */
    private readonly activeWorkers: () => number = () => 0,
    /** Pacing of the system metrics (a window of 10 s by default). */
    systemMetrics: SystemMetricSamplerOptions = {},
  ) {
    this.metricBuffer = new MetricBuffer(store, runId, METRIC_FLUSH_EVERY_MS, METRIC_FLUSH_POINTS);
    this.system = new SystemMetricSampler(systemMetrics);
    this.progress = {
      runId,
      name: init.name,
      status: 'running',
      step: 0,
      totalUpdates: init.totalUpdates,
      epoch: 0,
      trainLoss: null,
      evalLoss: null,
      evalAccuracy: null,
      bestAccuracy: null,
      lr: null,
      samplesPerSec: null,
      activeWorkers: 0,
      startedAt: new Date(),
    };
  }

  /** A copy of the progress with the current active-worker count. */
  snapshot(): RunProgress {
    return { ...this.progress, activeWorkers: this.activeWorkers() };
  }

  /** Tells the listeners the progress changed. */
  emitProgress(): void {
    try {
      this.listeners.onProgress?.(this.snapshot());
    } catch (err) {
      debug('progress listener threw: %O', err);
    }
  }

  /** Logs metric points: buffered for the database, passed on live at once (listener errors are only logged). */
  metrics(points: MetricPoint[]): void {
    this.metricBuffer.add(points);
    // A non-finite value (a diverged eval loss) is not JSON: live views get the finite points only.
    const finite = points.filter((p) => Number.isFinite(p.value));
    if (finite.length === 0) return;
    try {
      this.listeners.onMetrics?.(this.runId, finite);
    } catch (err) {
      debug('metrics listener threw: %O', err);
    }
  }

  /**
   * Logs one applied update at step `step + 1`: train loss and accuracy (sample-weighted), the
   * rule's lr and metrics, throughput, bytes and workers, and the system metrics when their
   * window has ended; counts each contributor's step and samples; updates the progress. Returns
   * the train loss.
   */
  recordUpdate(u: {
    step: number;
    epoch: number;
    contributions: readonly { workerId: string; sampleCount: number; loss: number; accuracy: number }[];
    lr: number;
    ruleMetrics: Record<string, number>;
    stepMs: number;
    bytesIn: number;
    bytesOut: number;
  }): number {
    const cs = u.contributions;
    const samples = cs.reduce((a, c) => a + c.sampleCount, 0);
    const trainLoss = sampleWeightedMean(cs.map((c) => ({ sampleCount: c.sampleCount, value: c.loss })));
    const trainAcc = sampleWeightedMean(cs.map((c) => ({ sampleCount: c.sampleCount, value: c.accuracy })));
    const samplesPerSec = samples / Math.max(u.stepMs / 1000, 1e-6);
    const time = new Date();
    const step = u.step + 1;
    const values: Record<string, number> = {
      train_loss: trainLoss,
      train_accuracy: trainAcc,
      lr: u.lr,
      ...u.ruleMetrics,
      samples_per_sec: samplesPerSec,
      step_time_ms: u.stepMs,
      batch_samples: samples,
      bytes_in: u.bytesIn,
      bytes_out: u.bytesOut,
      active_workers: cs.length,
      epoch: u.epoch,
      ...this.system.due(),
    };
    this.metrics(Object.entries(values).map(([key, value]) => ({ key, step, value, time })));
    for (const c of cs) this.count(c.workerId, { steps: 1, samples: c.sampleCount });
    Object.assign(this.progress, { step, epoch: u.epoch, trainLoss, lr: u.lr, samplesPerSec });
    const loop = this.system.latest;
    if (loop) this.progress.eventLoopP99Ms = loop.p99Ms;
    if (step % 10 === 0) void this.saveStep(step);
    this.emitProgress();
    return trainLoss;
  }

  /** Writes every buffered metric point; resolves when they are in the database. */
  flushMetrics(): Promise<void> {
    return this.metricBuffer.flush();
  }

  /** Records an Event of this run. */
  async event(kind: string, detail: unknown, workerId?: string): Promise<void> {
    await this.store.recordEvent({ runId: this.runId, workerId, kind, detail });
  }

  /** Adds to a worker's counters in memory; {@link flushContributions} writes them. */
  count(workerId: string, d: ContributionDelta): void {
    const cur = this.deltas.get(workerId) ?? { steps: 0, samples: 0, bytesIn: 0, bytesOut: 0 };
    cur.steps += d.steps ?? 0;
    cur.samples += d.samples ?? 0;
    cur.bytesIn += d.bytesIn ?? 0;
    cur.bytesOut += d.bytesOut ?? 0;
    this.deltas.set(workerId, cur);
  }

  /**
   * Writes a contribution row change now: a joined worker's empty row (written before the worker
   * gets any work, so every member that can send a real result has one), or a rejection with its
   * reason. A rejection is counted only on a row that exists: results from a worker that was never
   * assigned the run (not a member, a message for another run) leave no Contribution row, so the
   * run's contributors are the workers it was assigned to.
   */
  async contribution(workerId: string, delta: { rejected?: number; rejectReason?: string }): Promise<void> {
    if (!delta.rejected) {
      await this.store.addContribution(this.runId, workerId, delta);
      return;
    }
    await this.store.addRejection(this.runId, workerId, delta.rejectReason, delta.rejected);
  }

  /**
   * Writes the accumulated counters if a second has passed since the last write (the update path
   * calls it after every update: one row per worker per second at most, not per update; the run's
   * end writes the rest).
   */
  flushContributionsSoon(): void {
    const now = performance.now();
    if (now - this.lastContributionFlush < CONTRIBUTION_FLUSH_MS) return;
    this.lastContributionFlush = now;
    void this.flushContributions();
  }

  /** Writes the accumulated counters, in order with earlier flushes; resolves when they are in the database. */
  flushContributions(): Promise<void> {
    const batch = [...this.deltas.entries()];
    this.deltas.clear();
    this.contributionWrites = this.contributionWrites.then(async () => {
      for (const [workerId, d] of batch) {
        try {
          await this.store.addContribution(this.runId, workerId, d);
        } catch (err) {
          debug('contribution write for %s failed: %O', workerId, err);
        }
      }
    });
    return this.contributionWrites;
  }

  /** Stores how many updates the run has applied (every few updates; failures are only logged). */
  saveStep(step: number): Promise<void> {
    return this.store.setRunProgress(this.runId, step).catch((e: unknown) => debug('step write failed: %O', e));
  }

  /** Writes a run's end: everything buffered, its last step and status (the error when it failed), a `run_end` Event. */
  async recordEnd(outcome: { status: RunStatus; step: number; reason: string }): Promise<void> {
    this.progress.status = outcome.status;
    this.system.stop();
    await this.flushMetrics();
    await this.flushContributions();
    await this.store.setRunProgress(this.runId, outcome.step);
    await this.setStatus(outcome.status, outcome.status === 'failed' ? { error: outcome.reason } : undefined);
    await this.event('run_end', { ...outcome });
  }

  /** Sets the run's status in the database and in the live progress. */
  async setStatus(status: RunStatus, extra?: { error?: string }): Promise<void> {
    this.progress.status = status;
    await this.store.setRunStatus(this.runId, status, extra);
  }
}
