
import { z } from 'zod';
import { CrowdtrainError } from '../../protocol/errors.ts';
import { describeZodError } from '../../protocol/messages.ts';
import { EpochSampler, SamplerStateSchema, splitBatch, type SamplerState } from '../../data/epoch-sampler.ts';
import type { MachineSnapshot, RunEffect, RunEvent, RunMachine, RunPhase, StopReason } from '../run-machine.ts';

export type { RunEffect, RunEvent, RunPhase } from '../run-machine.ts';

/** Settings of the machine, from the run config. */
export interface RunMachineOptions {
  seed: number;
  datasetSize: number;
  batchSizePerWorker: number;
  totalUpdates: number;
  minWorkers: number;
  evalEvery: number;
  checkpointEvery: number;
  /** Samples per update whatever the fleet size; null/absent: batchSizePerWorker x members. */
  globalBatchSize?: number | null;
  /** `throughput` (default): slices proportional to each worker's measured samples/s; `equal`: even slices. */
  sliceBalance?: 'throughput' | 'equal';
  /** Fail after this many consecutive rounds with no accepted result (default 25). */
  maxFailedRounds?: number;
}

/** A worker whose share of the batch would be below this many samples sits the round out as a spare. */
const SPARE_BELOW_SAMPLES = 0.5;
/** Smoothing of the per-worker samples/s estimate (weight of the newest observation). */
const RATE_SMOOTHING = 0.3;

/** The DDP machine's checkpoint state: updates applied and where the sampler stands. */
export interface DdpMachineSnapshot extends MachineSnapshot {
  step: number;
  sampler: SamplerState;
}

const DdpSnapshotSchema = z.object({ step: z.int().min(0), sampler: SamplerStateSchema });

/** Checks a checkpoint's machine snapshot; CrowdtrainError('CHECKPOINT_INVALID') naming what is wrong. */
export function parseDdpSnapshot(snapshot: MachineSnapshot): DdpMachineSnapshot {
  const parsed = DdpSnapshotSchema.safeParse(snapshot);
  if (!parsed.success) {
    throw new CrowdtrainError('CHECKPOINT_INVALID', `ddp machine snapshot: ${describeZodError(parsed.error)}`);
  }
  return parsed.data;
}

interface Round {
  step: number;
  epoch: number;
  slices: Map<string, number[]>;
  done: Map<string, { sampleCount: number; loss: number; accuracy: number }>;
}

/**
 * The synchronous data-parallel run as a state machine (see `run-machine.ts` for the contract).
 *
 * One update ("round") goes: collecting (slices assigned, waiting for gradients) -> applying
 * (the shell runs the update rule) -> the next round. A worker that leaves, misses the deadline
 * or sends a rejected update has its slice given back to the sampler, so every sample is still
 * trained exactly once per epoch.
 */
export class DdpRunMachine implements RunMachine {
  private phase: RunPhase = 'waiting';
  private started = false;
  private begun = false;
  private stepCount: number;
  private readonly sampler: EpochSampler;
  private readonly members: string[] = [];
  private round: Round | null = null;
  private pauseRequested = false;
  /** Smoothed samples/s of each worker, from the shell's elapsed time of its results. */
  private readonly rates = new Map<string, number>();
  private readonly spares = new Set<string>();
  private failedRounds = 0;
  private lastRejection = '';
  private stopRequest: { reason: StopReason; detail?: string } | null = null;

  constructor(
    private readonly opts: RunMachineOptions,
    snapshot?: DdpMachineSnapshot,
  ) {
    this.stepCount = snapshot?.step ?? 0;
    this.sampler = new EpochSampler({ seed: opts.seed, datasetSize: opts.datasetSize }, snapshot?.sampler);
  }

  /** Current phase. */
  get currentPhase(): RunPhase {
    return this.phase;
  }

  /** Updates applied so far (= the version of the master parameters). */
  get step(): number {
    return this.stepCount;
  }

  /** The epoch the sampler is in. */
  get epoch(): number {
    return this.sampler.epoch;
  }

  /** Workers currently taking part, in join order. */
  get activeWorkers(): readonly string[] {
    return this.members;
  }

  /** The slice a worker holds in the current round, if any. */
  sliceOf(workerId: string): readonly number[] | undefined {
    return this.round?.slices.get(workerId);
  }

  /** The serialisable state (step + sampler); checkpoint effects carry the one taken at the right moment. */
  snapshot(): DdpMachineSnapshot {
    return { step: this.stepCount, sampler: this.sampler.state() };
  }

  /** Feeds one event in; returns the effects to perform, in order. */
  dispatch(event: RunEvent): RunEffect[] {
    const fx: RunEffect[] = [];
    if (this.phase === 'finished') return fx;
    switch (event.type) {
      case 'start':
        this.started = true;
        this.maybeStartRound(fx);
        break;
      case 'workerReady':
        if (!this.members.includes(event.workerId)) {
          this.members.push(event.workerId);
          fx.push({ type: 'record', kind: 'worker_ready', workerId: event.workerId, detail: { workers: this.members.length } });
        }
        if (this.phase === 'waiting') this.maybeStartRound(fx);
        break;
      case 'workerLeft': {
        const i = this.members.indexOf(event.workerId);
        if (i >= 0) this.members.splice(i, 1);
        this.rates.delete(event.workerId);
        this.spares.delete(event.workerId);
        this.failSlice(event.workerId, fx, 'slice_reassigned', `worker left: ${event.reason}`);
        this.maybeCloseRound(fx);
        break;
      }
      case 'resultAccepted': {
        const r = this.round;
        if (!r || this.phase !== 'collecting' || r.step !== event.step || !r.slices.has(event.workerId)) break;
        if (r.done.has(event.workerId)) break;
        r.done.set(event.workerId, { sampleCount: event.sampleCount, loss: event.loss, accuracy: event.accuracy });
        if (event.elapsedMs !== undefined && event.elapsedMs > 0 && event.sampleCount > 0) {
          const rate = event.sampleCount / (event.elapsedMs / 1000);
          const prev = this.rates.get(event.workerId);
          this.rates.set(event.workerId, prev === undefined ? rate : prev + RATE_SMOOTHING * (rate - prev));
        }
        this.maybeCloseRound(fx);
        break;
      }
      case 'resultRejected': {
        const r = this.round;
        if (!r || this.phase !== 'collecting' || r.step !== event.step) break;
        this.lastRejection = `${event.code}: ${event.reason}`;
        this.failSlice(event.workerId, fx, 'slice_reassigned', `update rejected: ${event.code}: ${event.reason}`);
        this.maybeCloseRound(fx);
        break;
      }
      case 'deadline': {
        const r = this.round;
        if (!r || this.phase !== 'collecting' || r.step !== event.step) break;
        for (const workerId of [...r.slices.keys()]) {
          if (r.done.has(workerId)) continue;
          const i = this.members.indexOf(workerId);
          if (i >= 0) this.members.splice(i, 1);
          fx.push({ type: 'evict', workerId, reason: `missed the deadline of step ${r.step}` });
          this.failSlice(workerId, fx, 'slice_reassigned', `no gradient for step ${r.step} before the deadline`);
        }
        this.maybeCloseRound(fx);
        break;
      }
      case 'updateApplied': {
        if (this.phase !== 'applying' || !this.round || this.round.step !== event.step) break;
        this.round = null;
        this.stepCount += 1;
        this.failedRounds = 0;
        this.phase = 'waiting';
        const s = this.stepCount;
        const last = s >= this.opts.totalUpdates;
        if (s % this.opts.evalEvery === 0 || last) fx.push({ type: 'evaluate', step: s });
        if (!last && s % this.opts.checkpointEvery === 0 && !this.stopRequest) {
          fx.push({ type: 'checkpoint', step: s, reason: 'periodic', snapshot: this.snapshot() });
        }
        if (last) {
          fx.push({ type: 'checkpoint', step: s, reason: 'final', snapshot: this.snapshot() });
          this.finish(fx, 'finished', `reached total_updates=${this.opts.totalUpdates}`);
          break;
        }
        if (this.stopRequest) {
          this.finishStopped(fx);
          break;
        }
        if (this.pauseRequested) {
          this.pauseRequested = false;
          this.phase = 'paused';
          fx.push({ type: 'record', kind: 'paused', detail: { step: this.stepCount } });
          break;
        }
        this.maybeStartRound(fx);
        break;
      }
      case 'pause': {
        if (this.phase === 'paused') break;
        if (this.phase === 'applying') {
          this.pauseRequested = true;
          break;
        }
        this.abandonRound();
        this.phase = 'paused';
        fx.push({ type: 'record', kind: 'paused', detail: { step: this.stepCount } });
        break;
      }
      case 'unpause': {
        this.pauseRequested = false;
        if (this.phase !== 'paused') break;
        this.phase = 'waiting';
        fx.push({ type: 'record', kind: 'unpaused', detail: { step: this.stepCount } });
        this.maybeStartRound(fx);
        break;
      }
      case 'stop': {
        this.stopRequest = { reason: event.reason, detail: event.detail };
        this.abandonRound();
        if (this.phase === 'paused') this.phase = 'waiting';
        if (this.phase === 'waiting') this.finishStopped(fx);
        // In 'applying' the stop takes effect after updateApplied.
        break;
      }
      default: {
        const never: never = event;
        throw new Error(`unknown run event ${JSON.stringify(never)}`);
      }
    }
    return fx;
  }

  /** Abandons a round in collection: nothing was applied, its samples go back to the sampler. */
  private abandonRound(): void {
    if (this.phase === 'collecting' && this.round) {
      for (const indices of this.round.slices.values()) this.sampler.giveBack(this.round.epoch, indices);
      this.round = null;
      this.phase = 'waiting';
    }
  }

  private finishStopped(fx: RunEffect[]): void {
    const req = this.stopRequest ?? { reason: 'stopped' as const };
    if (req.reason !== 'failed') {
      fx.push({ type: 'checkpoint', step: this.stepCount, reason: req.reason === 'stopped' ? 'stopped' : req.reason, snapshot: this.snapshot() });
    }
    this.finish(fx, req.reason === 'failed' ? 'failed' : 'stopped', req.detail ?? req.reason);
  }

  private finish(fx: RunEffect[], status: 'finished' | 'stopped' | 'failed', reason: string): void {
    this.phase = 'finished';
    fx.push({ type: 'finished', status, step: this.stepCount, reason });
  }

  private failSlice(workerId: string, fx: RunEffect[], kind: string, reason: string): void {
    const r = this.round;
    if (!r || this.phase !== 'collecting') return;
    const slice = r.slices.get(workerId);
    if (!slice || r.done.has(workerId)) return;
    r.slices.delete(workerId);
    this.sampler.giveBack(r.epoch, slice);
    fx.push({ type: 'record', kind, workerId, detail: { step: r.step, reason, reassignedSamples: slice.length } });
  }

  private maybeStartRound(fx: RunEffect[]): void {
    if (!this.started || this.phase !== 'waiting' || this.stopRequest) return;
    if (this.stepCount >= this.opts.totalUpdates) {
      this.finish(fx, 'finished', `reached total_updates=${this.opts.totalUpdates}`);
      return;
    }
    // min_workers gates only the first round of this session; later the run goes on with whoever is left.
    if (this.members.length === 0 || (!this.begun && this.members.length < this.opts.minWorkers)) return;
    this.begun = true;
    const batch = this.opts.globalBatchSize ?? this.opts.batchSizePerWorker * this.members.length;
    const { epoch, indices } = this.sampler.nextBatch(batch);
    const { workers, weights } = this.sliceWeights(indices.length, fx);
    const parts = splitBatch(indices, workers.length, weights);
    const slices = new Map<string, number[]>();
    workers.forEach((w, i) => {
      const part = parts[i] ?? [];
      if (part.length > 0) slices.set(w, part);
    });
    this.round = { step: this.stepCount, epoch, slices, done: new Map() };
    this.phase = 'collecting';
    fx.push({
      type: 'assign',
      step: this.stepCount,
      epoch,
      paramsVersion: this.stepCount,
      assignments: [...slices].map(([workerId, slice]) => ({ workerId, indices: slice })),
    });
    fx.push({ type: 'armDeadline', step: this.stepCount });
  }

  /**
   * Who takes part in the next round and with what weight: equal weights, or (throughput) each
   * worker's smoothed samples/s, an unmeasured worker counting as the fleet's mean. A worker whose
   * share would be under half a sample is a spare this round (an Event when that changes); the
   * fastest always takes part.
   */
  private sliceWeights(batch: number, fx: RunEffect[]): { workers: string[]; weights: number[] | undefined } {
    const members = this.members.slice(0, Math.min(this.members.length, batch));
    if (this.opts.sliceBalance === 'equal' || members.length < 2) return { workers: members, weights: undefined };
    const known = members.map((w) => this.rates.get(w)).filter((r): r is number => r !== undefined);
    if (known.length === 0) return { workers: members, weights: undefined };
    const mean = known.reduce((a, r) => a + r, 0) / known.length;
    const rate = (w: string) => this.rates.get(w) ?? mean;
    const total = members.reduce((a, w) => a + rate(w), 0);
    const fastest = Math.max(...members.map(rate));
    const workers = members.filter((w) => rate(w) === fastest || (batch * rate(w)) / total >= SPARE_BELOW_SAMPLES);
    for (const w of members) {
      const spare = !workers.includes(w);
      if (spare === this.spares.has(w)) continue;
      if (spare) this.spares.add(w);
      else this.spares.delete(w);
      fx.push({
        type: 'record',
        kind: spare ? 'worker_spare' : 'worker_unspared',
        workerId: w,
        detail: { step: this.stepCount, samplesPerSec: rate(w), fastestSamplesPerSec: fastest, reason: spare ? 'too slow for a share of the global batch; kept as a spare' : 'fast enough for a share again' },
      });
    }
    return { workers, weights: workers.map(rate) };
  }

  /** Workers sitting out rounds because they are far slower than the rest. */
  get spareWorkers(): readonly string[] {
    return [...this.spares];
  }

  private maybeCloseRound(fx: RunEffect[]): void {
    const r = this.round;
    if (!r || this.phase !== 'collecting') return;
    if (r.done.size < r.slices.size) return;
    if (r.done.size === 0) {
      // Every slice failed: nothing to apply; the samples were given back. Try again with whoever is left,
      // unless round after round has failed: then nothing will change by itself.
      this.round = null;
      this.phase = 'waiting';
      this.failedRounds += 1;
      const limit = this.opts.maxFailedRounds ?? 25;
      if (this.failedRounds >= limit && !this.stopRequest) {
        const last = this.lastRejection ? `; the last rejection: ${this.lastRejection}` : '';
        this.finish(
          fx,
          'failed',
          `no update accepted in ${this.failedRounds} consecutive rounds at step ${this.stepCount}${last}. ` +
            'Check the workers (backends, versions), lower the learning rate or enable max_grad_norm, or raise max_update_norm if real gradients are that large',
        );
        return;
      }
      if (this.stopRequest) this.finishStopped(fx);
      else this.maybeStartRound(fx);
      return;
    }
    this.phase = 'applying';
    fx.push({
      type: 'applyUpdate',
      step: r.step,
      epoch: r.epoch,
      contributions: [...r.done.entries()].map(([workerId, d]) => ({ workerId, ...d })),
    });
  }
}
