import { splitBatch } from '../../data/epoch-sampler.ts';
import { mixSeed, shuffledIndices } from '../../data/seeded-random.ts';
import type { MachineSnapshot, RunEffect, RunEvent } from '../run-machine.ts';
import { SampledRunMachine, parseSampledSnapshot, type SampledMachineSnapshot } from '../sampled-run-machine.ts';

/** Settings of the FedAvg machine, from the run config and its `fedavg:` section. */
export interface FedavgMachineOptions {
  seed: number;
  datasetSize: number;
  /** Sample indices each sampled client gets per round (local_steps × batch_size). */
  samplesPerClient: number;
  totalRounds: number;
  evalEvery: number;
  checkpointEvery: number;
  /** Fraction of the available clients sampled per round, in (0, 1]. */
  fraction: number;
  /** Clients per round (overrides fraction). */
  clients?: number;
  /** A round needs this many available clients to start and this many results to be applied. */
  minClients: number;
  /** The run's `min_workers`: the first round of a (resumed) session waits for this many workers (default 1). */
  minWorkers?: number;
  /** Fail after this many consecutive rounds that were not applied (default 25). */
  maxFailedRounds?: number;
}

/** The FedAvg machine's checkpoint state: rounds applied and where the sampler stands. */
export type FedavgMachineSnapshot = SampledMachineSnapshot;

/** Checks a checkpoint's machine snapshot; CrowdtrainError('CHECKPOINT_INVALID') naming what is wrong. */
export function parseFedavgSnapshot(snapshot: MachineSnapshot): FedavgMachineSnapshot {
  return parseSampledSnapshot(snapshot, 'fedavg');
}

interface Round {
  step: number;
  epoch: number;
  attempt: number;
  slices: Map<string, number[]>;
  done: Map<string, { sampleCount: number; loss: number; accuracy: number }>;
}

/**
 * Federated rounds as a state machine (the contract is `run-machine.ts`). Each round samples
 * clients among the available workers (seeded by run seed, round and attempt), gives each a
 * disjoint slice of `samplesPerClient` indices from the epoch sampler and collects their deltas.
 * A client that leaves, is rejected or misses the deadline is dropped from the round (never
 * counted) and its slice goes back to the sampler. When every sampled client has answered or
 * dropped, the round is applied if at least `minClients` reported; otherwise all its samples go
 * back and it is retried with a new sample of clients.
 */
export class FedavgRunMachine extends SampledRunMachine<Round> {
  private attempt = 0;
  private failedRounds = 0;
  private lastFailure = '';

  constructor(
    private readonly opts: FedavgMachineOptions,
    snapshot?: FedavgMachineSnapshot,
  ) {
    super({ ...opts, totalUpdates: opts.totalRounds }, snapshot);
  }

  /** The slice a sampled client holds in the current round, if any. */
  sliceOf(workerId: string): readonly number[] | undefined {
    return this.round?.slices.get(workerId);
  }

  /** The number of clients a round samples when `available` are there (0: too few to start). */
  clientsPerRound(available: number): number {
    if (available < this.opts.minClients) return 0;
    const wanted = this.opts.clients ?? Math.ceil(this.opts.fraction * available - 1e-9);
    return Math.min(available, Math.max(this.opts.minClients, wanted));
  }

  /** Feeds one event in; returns the effects to perform, in order. */
  dispatch(event: RunEvent): RunEffect[] {
    const fx: RunEffect[] = [];
    if (this.phase === 'finished' || this.handleLifecycle(event, fx)) return fx;
    switch (event.type) {
      case 'workerReady':
        this.addMember(event.workerId, fx);
        if (this.phase === 'waiting') this.maybeStartRound(fx);
        break;
      case 'workerLeft': {
        this.removeMember(event.workerId);
        this.dropClient(event.workerId, fx, `client left: ${event.reason}`);
        this.maybeCloseRound(fx);
        break;
      }
      case 'resultAccepted': {
        const r = this.round;
        if (!r || this.phase !== 'collecting' || r.step !== event.step || !r.slices.has(event.workerId) || r.done.has(event.workerId)) break;
        r.done.set(event.workerId, { sampleCount: event.sampleCount, loss: event.loss, accuracy: event.accuracy });
        this.maybeCloseRound(fx);
        break;
      }
      case 'resultRejected': {
        const r = this.round;
        if (!r || this.phase !== 'collecting' || r.step !== event.step) break;
        this.lastFailure = `${event.code}: ${event.reason}`;
        this.dropClient(event.workerId, fx, `update rejected: ${event.code}: ${event.reason}`);
        this.maybeCloseRound(fx);
        break;
      }
      case 'deadline': {
        const r = this.round;
        if (!r || this.phase !== 'collecting' || r.step !== event.step) break;
        for (const workerId of [...r.slices.keys()]) {
          if (r.done.has(workerId)) continue;
          this.removeMember(workerId);
          fx.push({ type: 'evict', workerId, reason: `missed the deadline of round ${r.step}` });
          this.dropClient(workerId, fx, `no delta for round ${r.step} before the deadline`);
        }
        this.maybeCloseRound(fx);
        break;
      }
      case 'wake':
        // This machine never arms a wake-up (no backup tasks: a client's round is its own data).
        break;
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
    this.attempt = 0;
    this.failedRounds = 0;
  }

  /** A sampled client that has not reported drops out of the round: its slice goes back. */
  private dropClient(workerId: string, fx: RunEffect[], reason: string): void {
    const r = this.round;
    if (!r || this.phase !== 'collecting') return;
    const slice = r.slices.get(workerId);
    if (!slice || r.done.has(workerId)) return;
    r.slices.delete(workerId);
    this.sampler.giveBack(r.epoch, slice);
    fx.push({ type: 'record', kind: 'client_dropped', workerId, detail: { step: r.step, reason, returnedSamples: slice.length } });
  }

  protected maybeStartRound(fx: RunEffect[]): void {
    if (!this.started || this.phase !== 'waiting' || this.stopRequest || this.finishIfDone(fx)) return;
    // min_workers gates only the first round of this session; min_clients gates every round.
    if (!this.begun && this.members.length < (this.opts.minWorkers ?? 1)) return;
    const count = this.clientsPerRound(this.members.length);
    if (count === 0) return;
    this.begun = true;
    const order = shuffledIndices(this.members.length, mixSeed(this.opts.seed, 0xfed, this.stepCount, this.attempt));
    const sampled = Array.from(order.subarray(0, count), (k) => this.members[k]!);
    const { epoch, indices } = this.sampler.nextBatch(count * this.opts.samplesPerClient);
    const parts = splitBatch(indices, count);
    const slices = new Map<string, number[]>();
    sampled.forEach((w, i) => {
      const part = parts[i] ?? [];
      if (part.length > 0) slices.set(w, part);
    });
    this.round = { step: this.stepCount, epoch, attempt: this.attempt, slices, done: new Map() };
    this.phase = 'collecting';
    fx.push({
      type: 'record',
      kind: 'clients_sampled',
      detail: { step: this.stepCount, attempt: this.attempt, available: this.members.length, sampled: [...slices.keys()] },
    });
    fx.push({
      type: 'assign',
      step: this.stepCount,
      epoch,
      paramsVersion: this.stepCount,
      assignments: [...slices].map(([workerId, slice]) => ({ workerId, indices: slice })),
    });
    fx.push({ type: 'armDeadline', step: this.stepCount });
  }

  private maybeCloseRound(fx: RunEffect[]): void {
    const r = this.round;
    if (!r || this.phase !== 'collecting' || r.done.size < r.slices.size) return;
    if (r.done.size >= this.opts.minClients) {
      this.phase = 'applying';
      fx.push({ type: 'applyUpdate', step: r.step, epoch: r.epoch, contributions: [...r.done.entries()].map(([workerId, d]) => ({ workerId, ...d })) });
      return;
    }
    // Too few reported: nothing is applied, every sample of the round goes back, and it is retried.
    for (const indices of r.slices.values()) this.sampler.giveBack(r.epoch, indices);
    this.round = null;
    this.phase = 'waiting';
    this.attempt += 1;
    this.failedRounds += 1;
    fx.push({ type: 'record', kind: 'round_retried', detail: { step: r.step, attempt: r.attempt, reported: r.done.size, minClients: this.opts.minClients } });
    const limit = this.opts.maxFailedRounds ?? 25;
    if (this.failedRounds >= limit && !this.stopRequest) {
      const last = this.lastFailure ? `; the last rejection: ${this.lastFailure}` : '';
      this.finish(fx, 'failed', `round ${this.stepCount} was not applied in ${this.failedRounds} attempts: fewer than min_clients=${this.opts.minClients} clients reported${last}`);
      return;
    }
    if (this.stopRequest) this.finishStopped(fx);
    else this.maybeStartRound(fx);
  }
}
