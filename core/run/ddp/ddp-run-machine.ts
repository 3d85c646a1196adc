
import type { MachineSnapshot, RunEffect, RunEvent } from '../run-machine.ts';
import { SampledRunMachine, parseSampledSnapshot, type SampledMachineSnapshot } from '../sampled-run-machine.ts';
import { WorkerPenalties, type PenaltyOptions, type PenaltyState } from './worker-penalties.ts';
import { newRound, type Round } from './ddp-round.ts';
import { mergeMean } from '../sample-weighted-mean.ts';
import { SliceWeights } from './slice-weights.ts';
import { checkStragglers, backupCandidate, type BackupContext, type BackupOptions } from './backup-tasks.ts';
import { capacityOf, splitCapped } from './slice-caps.ts';

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
  /**
   * Backup tasks: once all but a quarter (at least one) of a round's slices are in, a slice still out after
   * `max(multiple x median slice time of the round, floorMs)` is given to a member that is idle
   * or done (first valid answer wins). Defaults: multiple 3, floorMs 200. A worker that already has
   * strikes is backed up at once then. `false`: no backups (a mode whose worker task keeps state
   * per worker, such as diloco's inner optimizer, must not compute another worker's slice).
   */
  backup?: BackupOptions | false;
  /** How strikes (missed deadlines, lost backup races) weigh; see `worker-penalties.ts`. */
  penalties?: PenaltyOptions;
}

/** Rejections about timing or assignment, not about what a result contained. */
const NOT_ABOUT_CONTENT = new Set(['DUPLICATE_UPDATE', 'STALE_UPDATE', 'NOT_ASSIGNED']);
/** The DDP machine's checkpoint state: updates applied and where the sampler stands. */
export type DdpMachineSnapshot = SampledMachineSnapshot;

/** Checks a checkpoint's machine snapshot; CrowdtrainError('CHECKPOINT_INVALID') naming what is wrong. */
export function parseDdpSnapshot(snapshot: MachineSnapshot): DdpMachineSnapshot {
  return parseSampledSnapshot(snapshot, 'ddp');
}

/**
 * The synchronous data-parallel run as a state machine (see `run-machine.ts` for the contract).
 *
 * One update ("round") goes: collecting (slices assigned, waiting for gradients) -> applying
 * (the shell runs the update rule) -> the next round. The slice of a worker that leaves is taken
 * over in the same round by a member that is idle or done (at once, or as soon as one is free), so
 * an update always holds its whole batch; a slice nobody can take (no member left, the deadline,
 * a rejected update, or a mode without backups) goes back to the sampler. Either way every sample
 * is trained exactly once per epoch. No slice is larger than its worker's declared `maxBatch`: the
 * excess goes to members with room, and when the fleet's caps sum below the global batch a round
 * draws only that many samples (an Event says so), the rest staying in the sampler for later rounds.
 */
export class DdpRunMachine extends SampledRunMachine<Round> {
  private readonly weights: SliceWeights;
  private failedRounds = 0;
  private lastRejection = '';
  private readonly penalties: WorkerPenalties;
  /** The `maxBatch` each member declared (members without one take any slice). */
  private readonly maxBatch = new Map<string, number>();
  /** The round size the fleet's caps last limited the global batch to (null: they did not). */
  private cappedBatch: number | null = null;

  constructor(
    private readonly opts: RunMachineOptions,
    snapshot?: DdpMachineSnapshot,
  ) {
    super(opts, snapshot);
    this.penalties = new WorkerPenalties(opts.penalties);
    this.weights = new SliceWeights(opts.sliceBalance);
  }

  /**
   * The slice a worker holds in the current round, if any: the backup slice it runs, else its own
   * slice (answered or not), unless another member answered that one first.
   */
  sliceOf(workerId: string): readonly number[] | undefined {
    const r = this.round;
    if (!r) return undefined;
    const backupOf = r.backups.get(workerId);
    if (backupOf !== undefined) return r.slices.get(backupOf);
    const by = r.answeredBy.get(workerId);
    if (by !== undefined && by !== workerId) return undefined;
    return r.slices.get(workerId);
  }

  /** Strikes of a worker (missed deadlines and lost backup races, eased by results in time); kept across rejoins. */
  strikesOf(workerId: string): number {
    return this.penalties.strikes(workerId);
  }

  /** Feeds one event in; returns the effects to perform, in order. */
  dispatch(event: RunEvent): RunEffect[] {
    const fx: RunEffect[] = [];
    if (this.phase === 'finished' || this.handleLifecycle(event, fx)) return fx;
    switch (event.type) {
      case 'workerReady':
        if (event.maxBatch !== undefined) this.maxBatch.set(event.workerId, event.maxBatch);
        else this.maxBatch.delete(event.workerId);
        this.addMember(event.workerId, fx);
        if (this.phase === 'waiting') this.maybeStartRound(fx);
        else this.placeWaiting(fx);
        break;
      case 'workerLeft': {
        this.removeMember(event.workerId);
        this.weights.forget(event.workerId);
        this.maxBatch.delete(event.workerId);
        this.cancelBackup(event.workerId, fx, `backup worker left: ${event.reason}`, true);
        this.failSlice(event.workerId, fx, 'slice_reassigned', `worker left: ${event.reason}`, true);
        this.placeWaiting(fx);
        this.checkStragglers(fx);
        this.maybeCloseRound(fx);
        break;
      }
      case 'resultAccepted': {
        const r = this.round;
        if (!r || this.phase !== 'collecting' || r.step !== event.step) break;
        if (event.elapsedMs !== undefined) r.nowMs = Math.max(r.nowMs, event.elapsedMs);
        const backupOf = r.backups.get(event.workerId);
        if (backupOf !== undefined) this.backupAnswered(r, event.workerId, backupOf, event, fx);
        else if (this.ownSliceAnswered(r, event, fx)) break;
        this.placeWaiting(fx);
        this.checkStragglers(fx);
        this.maybeCloseRound(fx);
        break;
      }
      case 'wake': {
        const r = this.round;
        if (!r || this.phase !== 'collecting' || r.step !== event.step || r.wakeAtMs === null) break;
        r.nowMs = Math.max(r.nowMs, r.wakeAtMs);
        r.wakeAtMs = null;
        this.checkStragglers(fx);
        break;
      }
      case 'resultRejected': {
        const r = this.round;
        if (!r || this.phase !== 'collecting' || r.step !== event.step) break;
        this.lastRejection = `${event.code}: ${event.reason}`;
        // A refused result counts as no throughput: a fast worker that sends only rejected results
        // must not keep the largest share (or, as the fastest, all of it) round after round.
        // (A late or second answer — a lost backup race — says nothing about its results.)
        if (!NOT_ABOUT_CONTENT.has(event.code)) this.weights.refused(event.workerId);
        // A worker running a backup is refused for the backup (its own slice was answered before it got one).
        if (r.backups.has(event.workerId)) this.cancelBackup(event.workerId, fx, `backup refused: ${event.code}: ${event.reason}`, false);
        else this.failSlice(event.workerId, fx, 'slice_reassigned', `update rejected: ${event.code}: ${event.reason}`);
        this.checkStragglers(fx);
        this.maybeCloseRound(fx);
        break;
      }
      case 'deadline': {
        const r = this.round;
        if (!r || this.phase !== 'collecting' || r.step !== event.step) break;
        // Backups still out are dropped (their workers answered their own slices; they stay).
        for (const backupWorker of [...r.backups.keys()]) r.backups.delete(backupWorker);
        for (const workerId of [...r.slices.keys()]) {
          if (r.answeredBy.has(workerId)) continue;
          if (!r.orphaned.has(workerId)) {
            this.removeMember(workerId);
            fx.push({ type: 'evict', workerId, reason: `missed the deadline of step ${r.step}` });
            this.penalise(workerId, fx, `missed the deadline of step ${r.step}`);
          }
          r.orphaned.delete(workerId);
          this.failSlice(workerId, fx, 'slice_reassigned', `no gradient for step ${r.step} before the deadline`);
        }
        this.maybeCloseRound(fx);
        break;
      }
      case 'start':
      case 'updateApplied':
      case 'pause':
      case 'unpause':
      case 'stop':
        break; // handled by handleLifecycle
      default: {
        const never: never = event;
        throw new Error(`unknown run event ${JSON.stringify(never)}`);
      }
    }
    return fx;
  }

  protected override onApplied(): void {
    this.failedRounds = 0;
  }

  /**
   * A worker can no longer answer its own slice. A backup of it already running answers it alone;
   * else, with `takeOver` (the worker left) in a mode with backups while members remain, the slice
   * waits in the round for a member free to take it over (`placeWaiting`); else it goes back to the sampler.
   */
  private failSlice(workerId: string, fx: RunEffect[], kind: string, reason: string, takeOver = false): void {
    const r = this.round;
    if (!r || this.phase !== 'collecting') return;
    const slice = r.slices.get(workerId);
    if (!slice || r.answeredBy.has(workerId)) return;
    const backedUpBy = [...r.backups.entries()].find(([, of]) => of === workerId)?.[0];
    if (backedUpBy !== undefined) {
      // Its backup already computes this slice: it is the backup's now (recorded all the same).
      r.orphaned.add(workerId);
      fx.push({ type: 'record', kind, workerId, detail: { step: r.step, reason, reassignedSamples: slice.length, toBackup: backedUpBy } });
      return;
    }
    if (takeOver && this.opts.backup !== false && this.members.length > 0) {
      r.orphaned.add(workerId);
      if (!r.waiting.includes(workerId)) r.waiting.push(workerId);
      fx.push({ type: 'record', kind, workerId, detail: { step: r.step, reason, reassignedSamples: slice.length, inRound: true } });
      return;
    }
    r.slices.delete(workerId);
    r.orphaned.delete(workerId);
    r.waiting = r.waiting.filter((w) => w !== workerId);
    this.sampler.giveBack(r.epoch, slice);
    fx.push({ type: 'record', kind, workerId, detail: { step: r.step, reason, reassignedSamples: slice.length } });
  }

  /**
   * Gives the slices waiting for a taker (their holders left) to members that are idle or done,
   * as backup assignments; with no member left they go back to the sampler.
   */
  private placeWaiting(fx: RunEffect[]): void {
    const r = this.round;
    if (!r || this.phase !== 'collecting' || r.waiting.length === 0) return;
    if (this.members.length === 0) {
      for (const holder of [...r.waiting]) {
        r.orphaned.delete(holder);
        this.failSlice(holder, fx, 'slice_reassigned', 'no member left to take it over');
      }
      return;
    }
    const ctx = this.backupContext();
    for (const holder of [...r.waiting]) {
      const indices = r.slices.get(holder) ?? [];
      // A member with strikes takes it over only when nobody else can (else it would wait for the deadline).
      const taker = backupCandidate(r, ctx, indices.length) ?? backupCandidate(r, { ...ctx, strikes: () => 0 }, indices.length);
      if (taker === undefined) {
        // A slice no member's maxBatch holds goes back to the sampler now rather than at the deadline.
        if (!this.members.some((w) => this.capOf(w) >= indices.length)) {
          r.orphaned.delete(holder);
          this.failSlice(holder, fx, 'slice_reassigned', `no member left whose maxBatch holds its ${indices.length} samples`);
        }
        continue;
      }
      r.waiting = r.waiting.filter((w) => w !== holder);
      r.backups.set(taker, holder);
      r.hadBackup = true;
      fx.push({ type: 'record', kind: 'slice_taken_over', workerId: taker, detail: { step: r.step, from: holder, samples: indices.length } });
      fx.push({ type: 'assign', step: r.step, epoch: r.epoch, paramsVersion: r.step, assignments: [{ workerId: taker, indices }], backup: true });
    }
  }

  /** A worker's own slice was answered by itself; returns true when the event is to be ignored. */
  private ownSliceAnswered(r: Round, event: Extract<RunEvent, { type: 'resultAccepted' }>, fx: RunEffect[]): boolean {
    const workerId = event.workerId;
    if (!r.slices.has(workerId) || r.answeredBy.has(workerId)) return true;
    r.answeredBy.set(workerId, workerId);
    this.addResult(r, workerId, event);
    r.finishOrder.push(workerId);
    if (event.elapsedMs !== undefined && event.elapsedMs > 0 && event.sampleCount > 0) r.elapsed.push(event.elapsedMs);
    this.weights.accepted(workerId, event.sampleCount, event.elapsedMs);
    // Its backup, if one runs, lost the race: that answer will be refused as a duplicate.
    for (const [backupWorker, of] of r.backups) {
      if (of === workerId) r.backups.delete(backupWorker);
    }
    const eased = this.penalties.onTime(workerId);
    if (eased) this.recordPenalty(workerId, eased, fx, `${this.opts.penalties?.forgiveAfter ?? 10} results in time in a row: one strike forgiven`);
    return false;
  }

  /** A backup's answer arrived first: it counts for the slice's first holder, who loses the race. */
  private backupAnswered(r: Round, backupWorker: string, of: string, event: Extract<RunEvent, { type: 'resultAccepted' }>, fx: RunEffect[]): void {
    r.backups.delete(backupWorker);
    const slice = r.slices.get(of);
    if (!slice || r.answeredBy.has(of)) return;
    r.answeredBy.set(of, backupWorker);
    this.addResult(r, backupWorker, event);
    const orphaned = r.orphaned.delete(of);
    fx.push({ type: 'record', kind: 'backup_answered', workerId: backupWorker, detail: { step: r.step, slowWorker: of, samples: slice.length, elapsedMs: event.elapsedMs ?? null } });
    if (!orphaned) this.penalise(of, fx, `lost a backup race at step ${r.step}: ${backupWorker} answered its slice first`);
  }

  private addResult(r: Round, workerId: string, event: { sampleCount: number; loss: number; accuracy: number }): void {
    const prev = r.results.get(workerId) ?? { sampleCount: 0, loss: 0, accuracy: 0 };
    r.results.set(workerId, {
      sampleCount: prev.sampleCount + event.sampleCount,
      loss: mergeMean(prev.loss, prev.sampleCount, event.loss, event.sampleCount),
      accuracy: mergeMean(prev.accuracy, prev.sampleCount, event.accuracy, event.sampleCount),
    });
  }

  /**
   * Drops a backup a worker was running (it left, `takeOver`, or its answer was refused); an
   * orphaned slice is then taken over by another member or goes back to the sampler (see `failSlice`).
   */
  private cancelBackup(backupWorker: string, fx: RunEffect[], reason: string, takeOver: boolean): void {
    const r = this.round;
    if (!r || this.phase !== 'collecting') return;
    const of = r.backups.get(backupWorker);
    if (of === undefined) return;
    r.backups.delete(backupWorker);
    if (r.orphaned.has(of)) this.failSlice(of, fx, 'slice_reassigned', `${reason}; its first holder is gone too`, takeOver);
  }

  /** A strike for a worker, recorded as a `worker_penalised` Event. */
  private penalise(workerId: string, fx: RunEffect[], reason: string): void {
    const state = this.penalties.strike(workerId, this.round?.step ?? this.stepCount);
    this.recordPenalty(workerId, state, fx, reason);
  }

  private recordPenalty(workerId: string, state: PenaltyState, fx: RunEffect[], reason: string): void {
    fx.push({
      type: 'record',
      kind: state.spare ? 'worker_spare' : 'worker_penalised',
      workerId,
      detail: { step: this.round?.step ?? this.stepCount, ...state, reason: state.spare ? `${reason}; a spare from now on (${state.strikes} strikes)` : reason },
    });
  }

  /** Backs up the round's last slices once they are late (see `backup-tasks.ts`). */
  private checkStragglers(fx: RunEffect[]): void {
    const r = this.round;
    if (!r || this.phase !== 'collecting' || this.opts.backup === false) return;
    checkStragglers(r, this.opts.backup ?? {}, this.backupContext(), fx);
  }

  private backupContext(): BackupContext {
    return { members: this.members, strikes: (w) => this.penalties.strikes(w), isSpare: (w) => this.weights.isSpare(w), maxBatch: (w) => this.capOf(w) };
  }

  /** The most samples a worker takes in one slice: its declared `maxBatch`, else no cap. */
  private capOf(workerId: string): number {
    return this.maxBatch.get(workerId) ?? Infinity;
  }

  /**
   * The size of the next round: the global batch, or less when the caps of the members taking part
   * sum below it (an Event once per limit: the samples left out stay in the sampler for later
   * rounds, so every sample is still trained once per epoch).
   */
  private roundSize(wanted: number, eligible: readonly string[], fx: RunEffect[]): number {
    const room = capacityOf(eligible, (w) => this.capOf(w));
    if (wanted <= room) {
      this.cappedBatch = null;
      return wanted;
    }
    if (this.cappedBatch !== room) {
      this.cappedBatch = room;
      fx.push({
        type: 'record',
        kind: 'batch_capped',
        detail: {
          step: this.stepCount,
          globalBatchSize: wanted,
          samples: room,
          maxBatch: Object.fromEntries(eligible.map((w) => [w, this.capOf(w)])),
          reason: `the declared maxBatch of the ${eligible.length} worker(s) taking part sum to ${room}, under the global batch of ${wanted}: rounds train ${room} samples until workers with room join`,
        },
      });
    }
    return room;
  }

  protected maybeStartRound(fx: RunEffect[]): void {
    if (!this.started || this.phase !== 'waiting' || this.stopRequest || this.finishIfDone(fx)) return;
    // min_workers gates only the first round of this session; later the run goes on with whoever is left.
    if (this.members.length === 0 || (!this.begun && this.members.length < this.opts.minWorkers)) return;
    this.begun = true;
    // Benched and penalised spares get no slice (when every member is penalised, all take part).
    const taking = this.members.filter((w) => this.penalties.mayTakePart(w, this.stepCount));
    const eligible = taking.length > 0 ? taking : this.members;
    const batch = this.roundSize(this.opts.globalBatchSize ?? this.opts.batchSizePerWorker * eligible.length, eligible, fx);
    const { epoch, indices } = this.sampler.nextBatch(batch);
    const weighed = this.weights.weigh(eligible, indices.length, this.stepCount, (w) => this.penalties.sliceScale(w), fx);
    const capOf = (w: string) => this.capOf(w);
    // What the weighted members' caps cannot hold goes to the members the weighting left out (spares), evenly.
    const extra = capacityOf(weighed.workers, capOf) < indices.length ? eligible.filter((w) => !weighed.workers.includes(w)) : [];
    const workers = [...weighed.workers, ...extra];
    const weights = extra.length > 0 ? [...(weighed.weights ?? weighed.workers.map(() => 1)), ...extra.map(() => 0)] : weighed.weights;
    const parts = splitCapped(indices, workers, weights, capOf);
    const slices = new Map<string, number[]>();
    workers.forEach((w, i) => {
      const part = parts[i] ?? [];
      if (part.length > 0) slices.set(w, part);
    });
    this.round = newRound(this.stepCount, epoch, slices);
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

  /** Workers sitting out rounds because they are far slower than the rest. */
  get spareWorkers(): readonly string[] {
    return this.weights.spareWorkers;
  }

  private maybeCloseRound(fx: RunEffect[]): void {
    const r = this.round;
    if (!r || this.phase !== 'collecting') return;
    if (r.answeredBy.size < r.slices.size) return;
    if (r.results.size === 0) {
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
    const contributions = [...r.results.entries()].map(([workerId, d]) => ({
      workerId,
      sampleCount: d.sampleCount,
      loss: d.loss,
      accuracy: d.accuracy,
    }));
    // With backups a worker's contribution may cover two slices: say which slices went in, by whom.
    const slices = r.hadBackup ? [...r.slices].map(([owner, indices]) => ({ workerId: r.answeredBy.get(owner) ?? owner, indices })) : undefined;
    fx.push({ type: 'applyUpdate', step: r.step, epoch: r.epoch, contributions, ...(slices ? { slices } : {}) });
  }
}
