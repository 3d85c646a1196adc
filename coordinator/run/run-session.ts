import path from 'node:path';
import createDebug from 'debug';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { CHUNK_BYTES } from '../../core/protocol/version.ts';
import { CrowdtrainError, toWireError, type ErrorCode } from '../../core/protocol/errors.ts';
import { describeZodError, GradChunkSchema, GradCommitSchema, RunReadySchema, StepDeclineSchema, type AckResult } from '../../core/protocol/messages.ts';
import { ChunkAssembler, splitIntoChunks } from '../../core/codec/chunking.ts';
import { bytesPerGradientValue, decodeGradientInto } from '../../core/codec/gradient-compression.ts';
import { float32ToBytes } from '../../core/codec/float-bytes.ts';
import { GradientComputer } from '../../core/models/gradient-computer.ts';
import { datasetBatch, type Dataset } from '../../core/data/dataset.ts';
import { loadDataset } from '../../core/data/dataset-spec.ts';
import { createFlatOptimizer, type FlatOptimizer } from '../../core/optim/flat-optimizer.ts';
import { lrAt } from '../../core/optim/lr-schedule.ts';
import { clipByGlobalNorm, globalNorm } from '../../core/optim/clip.ts';
import { validateUpdate } from '../../core/aggregate/validate-update.ts';
import { reduceWeightedMean } from '../../core/aggregate/reduce-weighted-mean.ts';
import { createReduceArena, type ReduceArena } from '../../core/aggregate/reduce-arena.ts';
import { GradientAgreementTracker, type WorkerAgreement } from '../../core/aggregate/gradient-agreement.ts';
import { DdpRunMachine, type RunEffect, type RunEvent, type RunMachineSnapshot } from '../../core/run/ddp-run-machine.ts';
import type { RunConfig } from '../../core/config/run-config.ts';
import type { TrackingStore } from '../../prisma/queries/tracking-store.ts';
import { MetricBuffer, type MetricPoint } from './metric-buffer.ts';
import { readCheckpointFile, writeCheckpointFile, type CheckpointContent } from './checkpoint-file.ts';
import type { WorkerHandle } from './worker-handle.ts';

const debug = createDebug('crowdtrain:run');

/** A live view of a run, for the status API and the CLI progress line. */
export interface RunProgress {
  runId: string;
  name: string;
  status: string;
  step: number;
  totalUpdates: number;
  epoch: number;
  trainLoss: number | null;
  evalLoss: number | null;
  evalAccuracy: number | null;
  bestAccuracy: number | null;
  lr: number | null;
  samplesPerSec: number | null;
  activeWorkers: number;
  startedAt: Date;
}

/** How the session ended. */
export interface RunOutcome {
  status: 'finished' | 'stopped' | 'failed';
  step: number;
  reason: string;
  evalAccuracy: number | null;
  evalLoss: number | null;
}

interface WorkerState {
  handle: WorkerHandle;
  ready: boolean;
  sentVersion: number;
  grad: { step: number; assembler: ChunkAssembler | null; error: CrowdtrainError | null; bytes: number } | null;
}

export type { MetricPoint } from './metric-buffer.ts';

/** Options to open a run session. */
export interface RunSessionOptions {
  runId: string;
  config: RunConfig;
  store: TrackingStore;
  dataDir: string;
  /** Resume from this checkpoint content (exact continuation). */
  resumeFrom?: CheckpointContent;
  onProgress?: (p: RunProgress) => void;
  /** Called after every applied update with the samples each contributing worker trained. */
  onUpdateApplied?: (u: AppliedUpdate) => void;
  /** Called after every update with each worker's agreement with the rest of the fleet (3+ workers). */
  onWorkerAgreement?: (a: WorkerAgreement) => void;
  /** Called with every batch of metric points as it is logged (live views; no database read needed). */
  onMetrics?: (runId: string, points: MetricPoint[]) => void;
  /** Called after each checkpoint is written and recorded. */
  onCheckpoint?: (c: { runId: string; step: number; reason: string; path: string }) => void;
}

/** What one applied update trained. */
export interface AppliedUpdate {
  runId: string;
  /** The update's index (params version it was computed at). */
  step: number;
  epoch: number;
  trainLoss: number;
  slices: { workerId: string; indices: number[] }[];
}

/**
 * The shell around one run's state machine: owns the master parameters and the optimizer,
 * talks to the workers, validates and reduces their gradients, evaluates, checkpoints and
 * records everything through the tracking store. All machine events are processed one at a
 * time, in order, through a single promise chain.
 */
export class RunSession {
  readonly runId: string;
  readonly config: RunConfig;
  private readonly store: TrackingStore;
  private readonly dataDir: string;
  private machine!: DdpRunMachine;
  private computer!: GradientComputer;
  private params!: Float32Array;
  private optimizer!: FlatOptimizer;
  private train!: Dataset;
  private test!: Dataset;
  private readonly workers = new Map<string, WorkerState>();
  private readonly grads = new Map<string, Float32Array>();
  /** Gradients of a round are decoded straight into slots of one arena, where the reduce runs in place (SIMD). */
  private arena: ReduceArena | null = null;
  private nextSlot = 0;
  private chain: Promise<void> = Promise.resolve();
  private deadline: NodeJS.Timeout | null = null;
  private timeLimitTimer: NodeJS.Timeout | null = null;
  private metrics!: MetricBuffer;
  private roundStartedAt = 0;
  private roundBytesIn = 0;
  private roundBytesOut = 0;
  private readonly startedAt = new Date();
  private progress: RunProgress;
  private bestAccuracy: number | null = null;
  private ended: RunOutcome | null = null;
  private resolveDone!: (o: RunOutcome) => void;
  /** Resolves when the run has finished, stopped or failed, and everything is written. */
  readonly done: Promise<RunOutcome>;
  private readonly onProgress?: (p: RunProgress) => void;
  private readonly onUpdateApplied?: (u: AppliedUpdate) => void;
  private readonly onMetrics?: (runId: string, points: MetricPoint[]) => void;
  private readonly onWorkerAgreement?: (a: WorkerAgreement) => void;
  private readonly agreement = new GradientAgreementTracker();
  private readonly onCheckpoint?: (c: { runId: string; step: number; reason: string; path: string }) => void;
  private roundAssignments: { workerId: string; indices: number[] }[] = [];

  private constructor(opts: RunSessionOptions) {
    this.runId = opts.runId;
    this.config = opts.config;
    this.store = opts.store;
    this.dataDir = opts.dataDir;
    this.onProgress = opts.onProgress;
    this.onUpdateApplied = opts.onUpdateApplied;
    this.onCheckpoint = opts.onCheckpoint;
    this.onMetrics = opts.onMetrics;
    this.onWorkerAgreement = opts.onWorkerAgreement;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.progress = {
      runId: opts.runId,
      name: opts.config.name,
      status: 'running',
      step: 0,
      totalUpdates: opts.config.total_updates,
      epoch: 0,
      trainLoss: null,
      evalLoss: null,
      evalAccuracy: null,
      bestAccuracy: null,
      lr: null,
      samplesPerSec: null,
      activeWorkers: 0,
      startedAt: this.startedAt,
    };
  }

  /** Builds the model, data and optimizer (restoring a checkpoint when given) and starts the run. */
  static async open(opts: RunSessionOptions): Promise<RunSession> {
    const s = new RunSession(opts);
    await s.init(opts.resumeFrom);
    return s;
  }

  private async init(resume?: CheckpointContent): Promise<void> {
    const c = this.config;
    const { train, test } = await loadDataset(c.dataset);
    this.train = train;
    this.test = test;
    this.computer = GradientComputer.create(c.model, { inputShape: train.inputShape, numClasses: train.numClasses, seed: c.seed });
    this.optimizer = createFlatOptimizer(c.optimizer, this.computer.layout.totalSize);
    const machineOpts = {
      seed: c.seed,
      datasetSize: train.size,
      batchSizePerWorker: c.batch_size,
      totalUpdates: c.total_updates,
      minWorkers: c.min_workers,
      evalEvery: c.eval_every,
      checkpointEvery: c.checkpoint_every,
    };
    if (resume) {
      if (resume.params.length !== this.computer.layout.totalSize) {
        throw new CrowdtrainError(
          'CHECKPOINT_INVALID',
          `checkpoint has ${resume.params.length} parameters, the model of run ${this.runId} has ${this.computer.layout.totalSize}`,
        );
      }
      this.params = resume.params.slice();
      this.optimizer.load(resume.optimizer);
      this.machine = new DdpRunMachine(machineOpts, resume.machine);
      this.bestAccuracy = resume.bestMetric;
    } else {
      this.params = this.computer.getParams();
      this.machine = new DdpRunMachine(machineOpts);
    }
    this.metrics = new MetricBuffer(this.store, this.runId);
    this.progress.step = this.machine.step;
    this.progress.epoch = this.machine.epoch;
    this.progress.bestAccuracy = this.bestAccuracy;
    if (c.time_limit !== null) {
      const margin = Math.min(60_000, Math.max(1000, c.time_limit * 0.05));
      this.timeLimitTimer = setTimeout(
        () => this.dispatch({ type: 'stop', reason: 'time_limit', detail: `time_limit of ${c.time_limit} ms nearly reached` }),
        Math.max(0, c.time_limit - margin),
      );
      this.timeLimitTimer.unref();
    }
    this.dispatch({ type: 'start' });
  }

  /** Number of float32 parameters of the run's model. */
  get paramCount(): number {
    return this.computer.layout.totalSize;
  }

  /** The current master parameters (a copy). */
  currentParams(): Float32Array {
    return this.params.slice();
  }

  /** Live progress snapshot. */
  status(): RunProgress {
    return { ...this.progress, activeWorkers: this.machine.activeWorkers.length };
  }

  /** Whether the run has ended. */
  get isEnded(): boolean {
    return this.ended !== null;
  }

  /** Offers the run to a connected worker: it builds the model and, once ready, joins the next round. */
  async addWorker(handle: WorkerHandle): Promise<void> {
    if (this.ended || this.workers.has(handle.id)) return;
    const state: WorkerState = { handle, ready: false, sentVersion: -1, grad: null };
    this.workers.set(handle.id, state);
    try {
      const res = await handle.assignRun({
        runId: this.runId,
        name: this.config.name,
        seed: this.config.seed,
        model: this.config.model,
        dataset: this.config.dataset,
        paramCount: this.paramCount,
        gradientCompression: this.config.gradient_compression,
      });
      if (!res.ok) throw new CrowdtrainError(res.error.code, res.error.message);
      const ready = RunReadySchema.safeParse(res);
      if (!ready.success) throw new CrowdtrainError('INVALID_MESSAGE', `run:assign ack: ${describeZodError(ready.error)}`);
      if (ready.data.paramCount !== this.paramCount) {
        throw new CrowdtrainError('SHAPE_MISMATCH', `worker model has ${ready.data.paramCount} parameters, expected ${this.paramCount}`);
      }
      if (this.workers.get(handle.id) !== state || this.ended) return;
      state.ready = true;
      await this.store.addContribution(this.runId, handle.id, {});
      this.dispatch({ type: 'workerReady', workerId: handle.id });
    } catch (err) {
      this.workers.delete(handle.id);
      const e = toWireError(err);
      debug('worker %s could not join run %s: %s', handle.id, this.runId, e.message);
      await this.store.recordEvent({ runId: this.runId, workerId: handle.id, kind: 'join_failed', detail: e });
    }
  }

  /** A worker disconnected or left: its slice goes back to the sampler. */
  removeWorker(workerId: string, reason: string): void {
    if (!this.workers.delete(workerId)) return;
    // A gradient it already delivered stays: the machine counts it for the round (the commit may
    // be queued ahead of this leave). An undelivered slice goes back to the sampler.
    this.dispatch({ type: 'workerLeft', workerId, reason });
  }

  /** Requests a graceful stop: finishes or abandons the current update, checkpoints, ends. */
  stop(reason: 'stopped' | 'signal' | 'time_limit' = 'stopped', detail?: string): Promise<RunOutcome> {
    this.dispatch({ type: 'stop', reason, detail });
    return this.done;
  }

  /**
   * A worker says it cannot compute its slice of a step (e.g. it lacks that params version): the
   * slice is reassigned now, and the next assignment resends the params.
   */
  async declineStep(workerId: string, raw: unknown): Promise<void> {
    const w = this.workers.get(workerId);
    if (!w) return;
    const parsed = StepDeclineSchema.safeParse(raw);
    if (!parsed.success) throw new CrowdtrainError('INVALID_MESSAGE', `step:decline: ${describeZodError(parsed.error)}`);
    const msg = parsed.data;
    if (msg.runId !== this.runId) return;
    w.sentVersion = -1;
    await this.store.recordEvent({ runId: this.runId, workerId, kind: 'step_declined', detail: { step: msg.step, code: msg.code, reason: msg.reason } });
    this.dispatch({ type: 'gradientRejected', workerId, step: msg.step, code: msg.code, reason: `declined by the worker: ${msg.reason}` });
  }

  /** Holds training (the current update is abandoned, its samples go back); the run stays open. */
  async pause(): Promise<void> {
    if (this.ended || this.progress.status === 'paused') return;
    this.dispatch({ type: 'pause' });
    this.progress.status = 'paused';
    await this.store.setRunStatus(this.runId, 'paused');
    this.onProgress?.(this.status());
  }

  /** Continues a paused run. */
  async unpause(): Promise<void> {
    if (this.ended || this.progress.status !== 'paused') return;
    this.progress.status = 'running';
    await this.store.setRunStatus(this.runId, 'running');
    this.dispatch({ type: 'unpause' });
    this.onProgress?.(this.status());
  }

  /** Whether training is paused. */
  get isPaused(): boolean {
    return this.progress.status === 'paused';
  }

  /** Handles one gradient chunk from a worker; invalid chunks poison that worker's update for the step. */
  receiveChunk(workerId: string, raw: unknown): void {
    const w = this.workers.get(workerId);
    if (!w) return;
    const parsed = GradChunkSchema.safeParse(raw);
    if (!parsed.success) {
      this.poison(w, -1, new CrowdtrainError('INVALID_MESSAGE', `grad:chunk: ${describeZodError(parsed.error)}`));
      return;
    }
    const msg = parsed.data;
    if (msg.runId !== this.runId) return;
    if (!w.grad || w.grad.step !== msg.step) {
      const compression = this.config.gradient_compression;
      const expected = this.paramCount * bytesPerGradientValue(compression);
      w.grad = { step: msg.step, assembler: null, error: null, bytes: 0 };
      if (msg.totalBytes !== expected) {
        w.grad.error = new CrowdtrainError(
          'SHAPE_MISMATCH',
          `gradient has ${msg.totalBytes} bytes, expected ${expected} (${this.paramCount} values, gradient_compression ${compression})`,
        );
        return;
      }
      try {
        w.grad.assembler = new ChunkAssembler(msg.totalBytes, msg.count);
      } catch (err) {
        w.grad.error = asCrowdtrainError(err, 'INVALID_MESSAGE');
        return;
      }
    }
    if (w.grad.error || !w.grad.assembler) return;
    try {
      w.grad.assembler.add(msg.index, msg.bytes);
      w.grad.bytes += msg.bytes.byteLength;
      this.roundBytesIn += msg.bytes.byteLength;
    } catch (err) {
      w.grad.error = asCrowdtrainError(err, 'INVALID_MESSAGE');
    }
  }

  /** Flags workers whose gradients disagree with the rest of the fleet (an Event when the flag changes). */
  private async checkAgreement(contributions: { workerId: string; values: Float32Array; weight: number }[], step: number): Promise<void> {
    for (const a of this.agreement.observe(contributions)) {
      this.onWorkerAgreement?.(a);
      if (!a.changed) continue;
      await this.store.recordEvent({
        runId: this.runId,
        workerId: a.workerId,
        kind: a.flagged ? 'gradient_outlier' : 'gradient_agreement_restored',
        detail: {
          step,
          agreement: a.agreement,
          reason: a.flagged
            ? `gradients disagree with the rest of the fleet (smoothed cosine ${a.agreement.toFixed(3)} < ${this.agreement.threshold} while the others agree): check this worker's backend`
            : `gradients agree with the fleet again (smoothed cosine ${a.agreement.toFixed(3)})`,
        },
      });
    }
  }

  private readonly deltas = new Map<string, { steps: number; samples: number; bytesIn: number; bytesOut: number }>();
  private contributionWrites: Promise<void> = Promise.resolve();

  /** Accumulates a worker's contribution counters in memory (written once per update, off the critical path). */
  private addDelta(workerId: string, d: Partial<{ steps: number; samples: number; bytesIn: number; bytesOut: number }>): void {
    const cur = this.deltas.get(workerId) ?? { steps: 0, samples: 0, bytesIn: 0, bytesOut: 0 };
    cur.steps += d.steps ?? 0;
    cur.samples += d.samples ?? 0;
    cur.bytesIn += d.bytesIn ?? 0;
    cur.bytesOut += d.bytesOut ?? 0;
    this.deltas.set(workerId, cur);
  }

  /** Writes the accumulated contribution counters; resolves when they are in the database. */
  private flushContributions(): Promise<void> {
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

  /** Decodes an assembled gradient into the next free arena slot (or a fresh array if none is left). */
  private decodeIntoSlot(assembler: ChunkAssembler): Float32Array {
    const compression = this.config.gradient_compression;
    const slot = this.arena && this.nextSlot < this.arena.slots ? this.arena.slot(this.nextSlot++) : new Float32Array(this.paramCount);
    if (compression === 'none' && assembler.totalBytes === slot.byteLength) {
      assembler.copyInto(new Uint8Array(slot.buffer, slot.byteOffset, slot.byteLength));
      return slot;
    }
    return decodeGradientInto(assembler.result(), compression, slot);
  }

  private poison(w: WorkerState, step: number, err: CrowdtrainError): void {
    w.grad = { step, assembler: null, error: err, bytes: 0 };
  }

  /**
   * Handles a worker's commit: the assembled gradient is validated (length, finite values, norm,
   * params version, slice size) before anything touches the parameters.
   */
  async receiveCommit(workerId: string, raw: unknown): Promise<AckResult<{ accepted: true }>> {
    const w = this.workers.get(workerId);
    const parsed = GradCommitSchema.safeParse(raw);
    let step = -1;
    try {
      if (!w) throw new CrowdtrainError('NOT_ASSIGNED', `worker ${workerId} is not part of run ${this.runId}`);
      if (!parsed.success) throw new CrowdtrainError('INVALID_MESSAGE', `grad:commit: ${describeZodError(parsed.error)}`);
      const msg = parsed.data;
      step = msg.step;
      if (msg.runId !== this.runId) throw new CrowdtrainError('RUN_NOT_FOUND', `run ${msg.runId} is not the active run ${this.runId}`);
      const slice = this.machine.sliceOf(workerId);
      if (this.machine.currentPhase !== 'collecting' || msg.step !== this.machine.step || !slice) {
        throw new CrowdtrainError(
          msg.step < this.machine.step ? 'STALE_UPDATE' : 'NOT_ASSIGNED',
          `no slice of step ${msg.step} is assigned to worker ${workerId} (run is at step ${this.machine.step})`,
        );
      }
      if (this.grads.has(workerId)) throw new CrowdtrainError('DUPLICATE_UPDATE', `worker ${workerId} already sent step ${msg.step}`);
      if (msg.sampleCount !== slice.length) {
        throw new CrowdtrainError('SHAPE_MISMATCH', `update claims ${msg.sampleCount} samples, the slice has ${slice.length}`);
      }
      const g = w.grad;
      if (!g || g.step !== msg.step) throw new CrowdtrainError('INVALID_MESSAGE', `no gradient chunks received for step ${msg.step}`);
      if (g.error) throw g.error;
      if (!g.assembler?.complete) throw new CrowdtrainError('INVALID_MESSAGE', `gradient for step ${msg.step} is incomplete`);
      const values = this.decodeIntoSlot(g.assembler);
      w.grad = null;
      validateUpdate(values, {
        expectedLength: this.paramCount,
        maxNorm: this.config.max_update_norm,
        paramsVersion: msg.paramsVersion,
        currentVersion: this.machine.step,
        maxStaleness: 0,
        // An fp16 gradient value beyond +-65504 arrives as Infinity: say why, and what to do.
        infinityHint: this.config.gradient_compression === 'fp16' ? 'fp16 holds magnitudes up to 65504; use gradient_compression: bf16 for larger gradients' : undefined,
      });
      if (!Number.isFinite(msg.loss)) throw new CrowdtrainError('NON_FINITE', `reported loss is ${msg.loss}`);
      this.grads.set(workerId, values);
      this.addDelta(workerId, { bytesIn: g.bytes });
      this.dispatch({ type: 'gradientAccepted', workerId, step: msg.step, sampleCount: msg.sampleCount, loss: msg.loss, accuracy: msg.accuracy });
      return { ok: true, accepted: true };
    } catch (err) {
      const e = asCrowdtrainError(err, 'INTERNAL');
      if (w) w.grad = null;
      debug('rejected update from %s: %s %s', workerId, e.code, e.message);
      await this.store.recordEvent({ runId: this.runId, workerId, kind: 'update_rejected', detail: { step, code: e.code, reason: e.message } });
      await this.store.addContribution(this.runId, workerId, { rejected: 1, rejectReason: `${e.code}: ${e.message}` });
      // A commit too malformed to name its step costs the worker its current slice.
      if (w) this.dispatch({ type: 'gradientRejected', workerId, step: step >= 0 ? step : this.machine.step, code: e.code, reason: e.message });
      return { ok: false, error: toWireError(e) };
    }
  }

  /** Queues an event for the machine; effects run in order before the next event. */
  private dispatch(event: RunEvent): void {
    this.chain = this.chain
      .then(async () => {
        if (this.ended) return;
        const effects = this.machine.dispatch(event);
        debug('%s event %o -> %o', this.runId, event.type === 'gradientAccepted' ? `${event.type} ${event.workerId} ${event.step}` : event, effects.map((e) => e.type));
        for (const fx of effects) await this.perform(fx);
      })
      .catch((err: unknown) => this.fail(err));
  }

  private async perform(fx: RunEffect): Promise<void> {
    switch (fx.type) {
      case 'assign':
        this.assign(fx);
        return;
      case 'armDeadline':
        if (this.deadline) clearTimeout(this.deadline);
        this.deadline = setTimeout(() => this.dispatch({ type: 'deadline', step: fx.step }), this.config.step_timeout);
        this.deadline.unref();
        return;
      case 'applyUpdate':
        await this.applyUpdate(fx);
        return;
      case 'evaluate':
        this.evaluate(fx.step);
        return;
      case 'checkpoint':
        await this.checkpoint(fx.step, fx.reason, fx.snapshot);
        return;
      case 'evict': {
        const w = this.workers.get(fx.workerId);
        this.workers.delete(fx.workerId);
        this.grads.delete(fx.workerId);
        w?.handle.evict(fx.reason);
        return;
      }
      case 'record':
        await this.store.recordEvent({ runId: this.runId, workerId: fx.workerId, kind: fx.kind, detail: fx.detail });
        return;
      case 'finished':
        await this.finish({ status: fx.status, step: fx.step, reason: fx.reason });
        return;
      default: {
        const never: never = fx;
        throw new Error(`unknown effect ${JSON.stringify(never)}`);
      }
    }
  }

  private assign(fx: Extract<RunEffect, { type: 'assign' }>): void {
    this.roundStartedAt = performance.now();
    this.roundBytesIn = 0;
    this.roundBytesOut = 0;
    this.roundAssignments = fx.assignments;
    this.grads.clear();
    if (!this.arena || this.arena.slots < fx.assignments.length) {
      this.arena = createReduceArena(this.paramCount, Math.max(4, fx.assignments.length));
    }
    this.nextSlot = 0;
    let paramBytes: Uint8Array | null = null;
    let chunks: Uint8Array[] = [];
    for (const a of fx.assignments) {
      const w = this.workers.get(a.workerId);
      if (!w) continue;
      w.grad = null;
      if (w.sentVersion !== fx.paramsVersion) {
        if (!paramBytes) {
          paramBytes = float32ToBytes(this.params);
          chunks = splitIntoChunks(paramBytes, CHUNK_BYTES);
        }
        const total = paramBytes.byteLength;
        chunks.forEach((bytes, index) =>
          w.handle.sendParamsChunk({ runId: this.runId, version: fx.paramsVersion, index, count: chunks.length, totalBytes: total, bytes }),
        );
        w.sentVersion = fx.paramsVersion;
        this.roundBytesOut += total;
        this.addDelta(a.workerId, { bytesOut: total });
      }
      const idx = Uint32Array.from(a.indices);
      w.handle.assignStep({
        runId: this.runId,
        step: fx.step,
        epoch: fx.epoch,
        paramsVersion: fx.paramsVersion,
        indices: new Uint8Array(idx.buffer),
      });
    }
  }

  private async applyUpdate(fx: Extract<RunEffect, { type: 'applyUpdate' }>): Promise<void> {
    if (this.deadline) clearTimeout(this.deadline);
    const parts = fx.contributions.map((c) => {
      const values = this.grads.get(c.workerId);
      if (!values) throw new Error(`gradient of ${c.workerId} for step ${fx.step} is missing`);
      return { values, weight: c.sampleCount };
    });
    const grad = reduceWeightedMean(parts, this.arena?.out);
    await this.checkAgreement(fx.contributions.map((c, i) => ({ workerId: c.workerId, values: parts[i]!.values, weight: c.sampleCount })), fx.step);
    const samples = fx.contributions.reduce((a, c) => a + c.sampleCount, 0);
    const trainLoss = fx.contributions.reduce((a, c) => a + c.loss * c.sampleCount, 0) / samples;
    const trainAcc = fx.contributions.reduce((a, c) => a + c.accuracy * c.sampleCount, 0) / samples;
    const gradNorm = this.config.max_grad_norm !== null ? clipByGlobalNorm(grad, this.config.max_grad_norm).norm : globalNorm(grad);
    const lr = lrAt(this.config.lr_schedule, this.config.optimizer.lr, fx.step, this.config.total_updates);
    this.optimizer.step(this.params, grad, lr);
    this.grads.clear();
    const stepMs = performance.now() - this.roundStartedAt;
    const now = new Date();
    const step = fx.step + 1;
    const points: MetricPoint[] = [
      { key: 'train_loss', step, value: trainLoss, time: now },
      { key: 'train_accuracy', step, value: trainAcc, time: now },
      { key: 'lr', step, value: lr, time: now },
      { key: 'grad_norm', step, value: gradNorm, time: now },
      { key: 'samples_per_sec', step, value: samples / Math.max(stepMs / 1000, 1e-6), time: now },
      { key: 'step_time_ms', step, value: stepMs, time: now },
      { key: 'batch_samples', step, value: samples, time: now },
      { key: 'bytes_in', step, value: this.roundBytesIn, time: now },
      { key: 'bytes_out', step, value: this.roundBytesOut, time: now },
      { key: 'active_workers', step, value: fx.contributions.length, time: now },
      { key: 'epoch', step, value: fx.epoch, time: now },
    ];
    this.metrics.add(points);
    this.onMetrics?.(this.runId, points);
    for (const c of fx.contributions) this.addDelta(c.workerId, { steps: 1, samples: c.sampleCount });
    Object.assign(this.progress, {
      step,
      epoch: fx.epoch,
      trainLoss,
      lr,
      samplesPerSec: samples / Math.max(stepMs / 1000, 1e-6),
    });
    if (step % 10 === 0) void this.store.setRunProgress(this.runId, step).catch((e: unknown) => debug('%O', e));
    this.onProgress?.(this.status());
    if (this.onUpdateApplied) {
      const ids = new Set(fx.contributions.map((c) => c.workerId));
      this.onUpdateApplied({
        runId: this.runId,
        step: fx.step,
        epoch: fx.epoch,
        trainLoss,
        slices: this.roundAssignments.filter((a) => ids.has(a.workerId)),
      });
    }
    // Feed the result back; effects of the next round run in this same chain.
    const effects = this.machine.dispatch({ type: 'updateApplied', step: fx.step });
    debug('%s updateApplied %d -> %o', this.runId, fx.step, effects.map((e) => e.type));
    // Start the next round first, so workers compute while we evaluate and checkpoint. Safe: the
    // params and optimizer state cannot change before this chain link ends, and checkpoint effects
    // carry the machine snapshot taken before the round drew its batch.
    const startsRound = (e: RunEffect) => e.type === 'assign' || e.type === 'armDeadline';
    for (const e of effects.filter(startsRound)) await this.perform(e);
    void this.flushContributions();
    for (const e of effects.filter((e) => !startsRound(e))) await this.perform(e);
  }

  /** Loss and accuracy of the master parameters on the test split. */
  evaluateNow(): { loss: number; accuracy: number } {
    this.computer.setParams(this.params);
    const { xs, ys } = datasetBatch(this.test, Array.from({ length: this.test.size }, (_, i) => i));
    try {
      return this.computer.evaluate(xs, ys, 500);
    } finally {
      tf.dispose([xs, ys]);
    }
  }

  private evaluate(step: number): void {
    const { loss, accuracy } = this.evaluateNow();
    const evalPoints: MetricPoint[] = [
      { key: 'eval_loss', step, value: loss, time: new Date() },
      { key: 'eval_accuracy', step, value: accuracy, time: new Date() },
    ];
    this.metrics.add(evalPoints);
    this.onMetrics?.(this.runId, evalPoints);
    this.progress.evalLoss = loss;
    this.progress.evalAccuracy = accuracy;
    if (this.bestAccuracy === null || accuracy > this.bestAccuracy) {
      this.bestAccuracy = accuracy;
      this.progress.bestAccuracy = accuracy;
      this.pendingBest = true;
    }
  }

  private pendingBest = false;

  private async checkpoint(step: number, reason: string, snapshot: RunMachineSnapshot): Promise<void> {
    // Everything logged up to a checkpoint is durable before the checkpoint is: a crash never
    // leaves a checkpoint whose metric history has holes.
    await this.metrics.flush();
    const content: CheckpointContent = {
      runId: this.runId,
      step,
      params: this.params,
      optimizer: this.optimizer.state(),
      machine: snapshot,
      bestMetric: this.bestAccuracy,
      createdAt: new Date().toISOString(),
    };
    const dir = path.join(this.dataDir, 'checkpoints', this.runId);
    const file = await writeCheckpointFile(dir, content, `step-${String(step).padStart(8, '0')}`);
    const isBest = this.pendingBest;
    this.pendingBest = false;
    await this.store.addCheckpoint({
      runId: this.runId,
      step,
      path: file.path,
      sha256: file.sha256,
      sizeBytes: file.sizeBytes,
      isBest,
      metricValue: isBest ? this.bestAccuracy ?? undefined : undefined,
    });
    await this.store.recordEvent({ runId: this.runId, kind: 'checkpoint', detail: { step, reason, path: file.path, sha256: file.sha256 } });
    this.onCheckpoint?.({ runId: this.runId, step, reason, path: file.path });
  }

  private async finish(outcome: Omit<RunOutcome, 'evalAccuracy' | 'evalLoss'>): Promise<void> {
    if (this.ended) return;
    const full: RunOutcome = { ...outcome, evalAccuracy: this.progress.evalAccuracy, evalLoss: this.progress.evalLoss };
    this.ended = full;
    if (this.deadline) clearTimeout(this.deadline);
    if (this.timeLimitTimer) clearTimeout(this.timeLimitTimer);
    this.progress.status = outcome.status;
    await this.metrics.flush();
    await this.flushContributions();
    await this.store.setRunProgress(this.runId, this.machine.step);
    await this.store.setRunStatus(this.runId, outcome.status, outcome.status === 'failed' ? { error: outcome.reason } : undefined);
    await this.store.recordEvent({ runId: this.runId, kind: 'run_end', detail: { ...full } });
    for (const w of this.workers.values()) w.handle.endRun({ runId: this.runId, status: outcome.status, reason: outcome.reason });
    this.workers.clear();
    this.computer.dispose();
    this.onProgress?.(this.status());
    this.resolveDone(full);
  }

  private async fail(err: unknown): Promise<void> {
    debug('run %s failed: %O', this.runId, err);
    if (this.ended) return;
    try {
      await this.finish({ status: 'failed', step: this.machine.step, reason: err instanceof Error ? err.message : String(err) });
    } catch (e) {
      debug('could not record failure: %O', e);
      this.ended = { status: 'failed', step: this.machine.step, reason: String(err), evalAccuracy: null, evalLoss: null };
      this.resolveDone(this.ended);
    }
  }
}

/** Loads the checkpoint a resume asks for ('latest', 'best' or a step). */
export async function loadRunCheckpoint(
  store: TrackingStore,
  runId: string,
  which: 'latest' | 'best' | number = 'latest',
): Promise<CheckpointContent> {
  const row = await store.findCheckpoint(runId, which);
  if (!row) throw new CrowdtrainError('CHECKPOINT_INVALID', `run ${runId} has no ${String(which)} checkpoint to resume from`);
  return readCheckpointFile(row.path, row.sha256);
}

function asCrowdtrainError(err: unknown, fallback: ErrorCode): CrowdtrainError {
  if (err instanceof CrowdtrainError) return err;
  return new CrowdtrainError(fallback, err instanceof Error ? err.message : String(err), { cause: err });
}
