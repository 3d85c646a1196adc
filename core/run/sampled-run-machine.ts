import { z } from 'zod';
import { CrowdtrainError } from '../protocol/errors.ts';
import { describeZodError } from '../protocol/messages.ts';
import { EpochSampler, SamplerStateSchema, type SamplerState } from '../data/epoch-sampler.ts';
import type { MachineSnapshot, RunEffect, RunEvent, RunMachine, RunPhase, StopReason } from './run-machine.ts';

/**
 * What the round-based machines (ddp, fedavg) share: updates applied and the epoch sampler as
 * their checkpoint state, the members in join order, and the run's lifecycle around rounds
 * (start, pause, unpause, stop, and after an applied update: evaluate, checkpoint, finish).
 * A subclass decides how a round is drawn, collected and closed.
 */

/** The checkpoint state: updates applied and where the sampler stands. */
export interface SampledMachineSnapshot extends MachineSnapshot {
  step: number;
  sampler: SamplerState;
}

const SnapshotSchema = z.object({ step: z.int().min(0), sampler: SamplerStateSchema });

/** Checks a checkpoint's machine snapshot; CrowdtrainError('CHECKPOINT_INVALID') naming the mode and what is wrong. */
export function parseSampledSnapshot(snapshot: MachineSnapshot, mode: string): SampledMachineSnapshot {
  const parsed = SnapshotSchema.safeParse(snapshot);
  if (!parsed.success) throw new CrowdtrainError('CHECKPOINT_INVALID', `${mode} machine snapshot: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

/** The lifecycle settings a round-based machine needs. */
export interface LifecycleOptions {
  seed: number;
  datasetSize: number;
  /** Updates (rounds) after which the run is finished. */
  totalUpdates: number;
  evalEvery: number;
  checkpointEvery: number;
}

/** The part of a round the lifecycle needs: its step, epoch and the slices still held. */
export interface SampledRound {
  step: number;
  epoch: number;
  slices: Map<string, number[]>;
}

/** A run machine whose rounds draw slices from one epoch sampler (see the module comment). */
export abstract class SampledRunMachine<R extends SampledRound> implements RunMachine {
  protected phase: RunPhase = 'waiting';
  protected started = false;
  /** Whether this session's first round has started (min_workers gates only that one). */
  protected begun = false;
  protected stepCount: number;
  protected readonly sampler: EpochSampler;
  protected readonly members: string[] = [];
  protected round: R | null = null;
  protected pauseRequested = false;
  protected stopRequest: { reason: StopReason; detail?: string } | null = null;

  protected constructor(
    private readonly lifecycle: LifecycleOptions,
    snapshot?: SampledMachineSnapshot,
  ) {
    this.stepCount = snapshot?.step ?? 0;
    this.sampler = new EpochSampler({ seed: lifecycle.seed, datasetSize: lifecycle.datasetSize }, snapshot?.sampler);
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

  /** Updates applied and the sampler's state; checkpoint effects carry the one taken at the right moment. */
  snapshot(): SampledMachineSnapshot {
    return { step: this.stepCount, sampler: this.sampler.state() };
  }

  abstract sliceOf(workerId: string): readonly number[] | undefined;
  abstract dispatch(event: RunEvent): RunEffect[];

  /** Starts the next round when the machine is waiting and the members allow it. */
  protected abstract maybeStartRound(fx: RunEffect[]): void;

  /** Called once an update was applied, before the next round is drawn (e.g. to reset retry counters). */
  protected onApplied(): void {}

  /** Adds a ready worker (an Event the first time); returns whether it is new. */
  protected addMember(workerId: string, fx: RunEffect[]): boolean {
    if (this.members.includes(workerId)) return false;
    this.members.push(workerId);
    fx.push({ type: 'record', kind: 'worker_ready', workerId, detail: { workers: this.members.length } });
    return true;
  }

  /** Removes a worker from the members (it left or was evicted). */
  protected removeMember(workerId: string): void {
    const i = this.members.indexOf(workerId);
    if (i >= 0) this.members.splice(i, 1);
  }

  /**
   * Handles the lifecycle events (start, updateApplied, pause, unpause, stop); returns false for
   * the round events the subclass handles.
   */
  protected handleLifecycle(event: RunEvent, fx: RunEffect[]): boolean {
    switch (event.type) {
      case 'start':
        this.started = true;
        this.maybeStartRound(fx);
        return true;
      case 'updateApplied':
        this.afterApplied(event.step, fx);
        return true;
      case 'pause':
        if (this.phase === 'paused') return true;
        if (this.phase === 'applying') {
          this.pauseRequested = true;
          return true;
        }
        this.abandonRound();
        this.phase = 'paused';
        fx.push({ type: 'record', kind: 'paused', detail: { step: this.stepCount } });
        return true;
      case 'unpause':
        this.pauseRequested = false;
        if (this.phase !== 'paused') return true;
        this.phase = 'waiting';
        fx.push({ type: 'record', kind: 'unpaused', detail: { step: this.stepCount } });
        this.maybeStartRound(fx);
        return true;
      case 'stop':
        this.stopRequest = { reason: event.reason, detail: event.detail };
        this.abandonRound();
        if (this.phase === 'paused') this.phase = 'waiting';
        if (this.phase === 'waiting') this.finishStopped(fx);
        // In 'applying' the stop takes effect after updateApplied.
        return true;
      default:
        return false;
    }
  }

  /** After an applied update: evaluate, checkpoint, finish, stop or pause as due, else the next round. */
  private afterApplied(step: number, fx: RunEffect[]): void {
    if (this.phase !== 'applying' || !this.round || this.round.step !== step) return;
    this.round = null;
    this.stepCount += 1;
    this.onApplied();
    this.phase = 'waiting';
    const s = this.stepCount;
    const { totalUpdates, evalEvery, checkpointEvery } = this.lifecycle;
    const last = s >= totalUpdates;
    if (s % evalEvery === 0 || last) fx.push({ type: 'evaluate', step: s });
    if (!last && s % checkpointEvery === 0 && !this.stopRequest) {
      fx.push({ type: 'checkpoint', step: s, reason: 'periodic', snapshot: this.snapshot() });
    }
    if (last) {
      fx.push({ type: 'checkpoint', step: s, reason: 'final', snapshot: this.snapshot() });
      this.finish(fx, 'finished', `reached total_updates=${totalUpdates}`);
      return;
    }
    if (this.stopRequest) {
      this.finishStopped(fx);
      return;
    }
    if (this.pauseRequested) {
      this.pauseRequested = false;
      this.phase = 'paused';
      fx.push({ type: 'record', kind: 'paused', detail: { step: this.stepCount } });
      return;
    }
    this.maybeStartRound(fx);
  }

  /** Whether the run has applied its last update (then the round to start finishes it instead). */
  protected finishIfDone(fx: RunEffect[]): boolean {
    if (this.stepCount < this.lifecycle.totalUpdates) return false;
    this.finish(fx, 'finished', `reached total_updates=${this.lifecycle.totalUpdates}`);
    return true;
  }

  /** Abandons a round in collection: nothing was applied, its samples go back to the sampler. */
  protected abandonRound(): void {
    if (this.phase === 'collecting' && this.round) {
      for (const indices of this.round.slices.values()) this.sampler.giveBack(this.round.epoch, indices);
      this.round = null;
      this.phase = 'waiting';
    }
  }

  /** Ends the run as asked by a stop (a checkpoint first, unless it failed). */
  protected finishStopped(fx: RunEffect[]): void {
    const req = this.stopRequest ?? { reason: 'stopped' as const };
    if (req.reason !== 'failed') {
      fx.push({ type: 'checkpoint', step: this.stepCount, reason: req.reason === 'stopped' ? 'stopped' : req.reason, snapshot: this.snapshot() });
    }
    this.finish(fx, req.reason === 'failed' ? 'failed' : 'stopped', req.detail ?? req.reason);
  }

  protected finish(fx: RunEffect[], status: 'finished' | 'stopped' | 'failed', reason: string): void {
    this.phase = 'finished';
    fx.push({ type: 'finished', status, step: this.stepCount, reason });
  }
}
