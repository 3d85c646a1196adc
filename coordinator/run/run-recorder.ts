import createDebug from 'debug';
import type { RunProgress as ApiRunProgress } from '../../core/api/stream.ts';
import type { RunStatus, TrackingStore } from '../../prisma/queries/tracking-store.ts';
import { MetricBuffer, type MetricPoint } from './metric-buffer.ts';

const debug = createDebug('crowdtrain:recorder');

/**
 * A live view of a run, for the status API, the run stream and the CLI progress line: the REST
 * schema's fields (`core/api/stream.ts`), with the start time as a Date.
 */
export type RunProgress = Omit<ApiRunProgress, 'startedAt'> & { startedAt: Date };

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
 * Everything a run session writes about itself: metric points (batched, one insert per second),
 * events, per-worker contribution counters (accumulated in memory and written off the critical
 * path), the run's status and step, and the live progress snapshot. No training logic.
 */
export class RunRecorder {
  /** The live progress snapshot (the session updates its fields, then calls {@link emitProgress}). */
  readonly progress: RunProgress;
  private readonly metricBuffer: MetricBuffer;
  private readonly deltas = new Map<string, Required<ContributionDelta>>();
  private contributionWrites: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: TrackingStore,
    private readonly runId: string,
    init: { name: string; totalUpdates: number },
    private readonly listeners: RecorderListeners = {},
    /** Live active-worker count (read at each snapshot). */
    private readonly activeWorkers: () => number = () => 0,
  ) {
    this.metricBuffer = new MetricBuffer(store, runId);
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
   * rule's lr and metrics, throughput, bytes and workers; counts each contributor's step and
   * samples; updates the progress. Returns the train loss.
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
    const trainLoss = cs.reduce((a, c) => a + c.loss * c.sampleCount, 0) / samples;
    const trainAcc = cs.reduce((a, c) => a + c.accuracy * c.sampleCount, 0) / samples;
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
    };
    this.metrics(Object.entries(values).map(([key, value]) => ({ key, step, value, time })));
    for (const c of cs) this.count(c.workerId, { steps: 1, samples: c.sampleCount });
    Object.assign(this.progress, { step, epoch: u.epoch, trainLoss, lr: u.lr, samplesPerSec });
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

  /** Writes a contribution row change now (e.g. a joined worker's empty row, a rejection with its reason). */
  async contribution(workerId: string, delta: { rejected?: number; rejectReason?: string }): Promise<void> {
    await this.store.addContribution(this.runId, workerId, delta);
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
