/**
 * The DDP machine's memory of unreliable workers, by workerId, across leaves and rejoins (a worker
 * rejoins under the same id): each missed deadline or lost backup race is a strike. A struck
 * worker is benched for a number of rounds that doubles with each strike (its rejoin is accepted,
 * it gets no slice), then gets smaller slices (halved per strike after the first), and at
 * `spareAfterStrikes` it is a spare for the rest of the session (no slice at all). Results that
 * arrive in time ease it: every `forgiveAfter` of them in a row take one strike away.
 * Pure bookkeeping: no I/O, no clock (rounds are counted by step).
 */

/** How hard strikes weigh. */
export interface PenaltyOptions {
  /** Strikes that make a worker a spare for good (default 4). */
  spareAfterStrikes?: number;
  /** On-time results in a row that take one strike away (default 10). */
  forgiveAfter?: number;
  /** Longest bench, in rounds (default 64). */
  maxBenchRounds?: number;
}

/** A worker's penalty after a change, as the machine records it in an Event. */
export interface PenaltyState {
  strikes: number;
  /** Rounds (steps) the worker gets no slice, counted from the next one. */
  benchedRounds: number;
  /** Factor on the worker's share of the batch once it takes part again (1: full share). */
  sliceScale: number;
  /** A spare for the rest of the session: never given a slice. */
  spare: boolean;
}

interface PenaltyRecord {
  strikes: number;
  benchedUntilStep: number;
  onTime: number;
}

/** Strikes and benches of the workers of one run (see the module comment). */
export class WorkerPenalties {
  private readonly book = new Map<string, PenaltyRecord>();
  private readonly spareAfter: number;
  private readonly forgiveAfter: number;
  private readonly maxBench: number;

  constructor(opts: PenaltyOptions = {}) {
    this.spareAfter = opts.spareAfterStrikes ?? 4;
    this.forgiveAfter = opts.forgiveAfter ?? 10;
    this.maxBench = opts.maxBenchRounds ?? 64;
  }

  /** Adds a strike in the round of `step`; returns the new penalty. */
  strike(workerId: string, step: number): PenaltyState {
    const r = this.book.get(workerId) ?? { strikes: 0, benchedUntilStep: 0, onTime: 0 };
    r.strikes += 1;
    r.onTime = 0;
    const bench = Math.min(this.maxBench, 2 ** (r.strikes - 1));
    r.benchedUntilStep = step + 1 + bench;
    this.book.set(workerId, r);
    return this.stateOf(r, bench);
  }

  /** A result of the worker's own slice arrived in time; returns the new penalty when a strike was taken away. */
  onTime(workerId: string): PenaltyState | null {
    const r = this.book.get(workerId);
    if (!r || r.strikes === 0 || r.strikes >= this.spareAfter) return null;
    r.onTime += 1;
    if (r.onTime < this.forgiveAfter) return null;
    r.onTime = 0;
    r.strikes -= 1;
    return this.stateOf(r, 0);
  }

  /** Strikes of a worker (0 for one never struck). */
  strikes(workerId: string): number {
    return this.book.get(workerId)?.strikes ?? 0;
  }

  /** Whether the worker may get a slice in the round of `step` (not benched, not a spare). */
  mayTakePart(workerId: string, step: number): boolean {
    const r = this.book.get(workerId);
    return !r || (r.strikes < this.spareAfter && step >= r.benchedUntilStep);
  }

  /** Factor on the worker's share of a batch: 1, then halved for every strike after the first. */
  sliceScale(workerId: string): number {
    const s = this.strikes(workerId);
    return s <= 1 ? 1 : 0.5 ** (s - 1);
  }

  private stateOf(r: PenaltyRecord, bench: number): PenaltyState {
    return { strikes: r.strikes, benchedRounds: bench, sliceScale: r.strikes <= 1 ? 1 : 0.5 ** (r.strikes - 1), spare: r.strikes >= this.spareAfter };
  }
}
