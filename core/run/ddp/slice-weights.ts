import type { RunEffect } from '../run-machine.ts';

/**
 * How the DDP machine splits a round's batch: each worker's smoothed samples/s (from the elapsed
 * time of its results), the workers too slow for a share (spares), and the results refused in a
 * row that push a worker to the back. Pure bookkeeping: no I/O, no clock.
 */

/** A worker whose share of the batch would be below this many samples sits the round out as a spare. */
export const SPARE_BELOW_SAMPLES = 0.5;
/**
 * A spare takes part again only once its share would be at least this many samples: the gap to
 * SPARE_BELOW_SAMPLES keeps a worker near the line from flapping between spare and not (and
 * writing an Event each time) on a noisy machine.
 */
export const UNSPARE_AT_SAMPLES = 1;
/** Smoothing of the per-worker samples/s estimate (weight of the newest observation). */
const RATE_SMOOTHING = 0.3;
/** What a refused result does to a worker's measured samples/s. */
const REFUSED_RATE_FACTOR = 0.5;

/** Who takes part in a round and with what weight (undefined: equal slices). */
export interface WeightedMembers {
  workers: string[];
  weights: number[] | undefined;
}

/** Samples/s, spares and refusals of the workers of one run. */
export class SliceWeights {
  /** Smoothed samples/s of each worker, from the shell's elapsed time of its results. */
  private readonly rates = new Map<string, number>();
  private readonly spares = new Set<string>();
  /** Results refused for their content since each worker's last accepted one. */
  private readonly refusedInARow = new Map<string, number>();

  constructor(private readonly balance: 'throughput' | 'equal' = 'throughput') {}

  /** Forgets a worker that left (a rejoin is measured afresh). */
  forget(workerId: string): void {
    this.rates.delete(workerId);
    this.spares.delete(workerId);
    this.refusedInARow.delete(workerId);
  }

  /** A result of the worker's own slice was accepted: its rate is updated, its refusals cleared. */
  accepted(workerId: string, sampleCount: number, elapsedMs: number | undefined): void {
    this.refusedInARow.delete(workerId);
    if (elapsedMs === undefined || elapsedMs <= 0 || sampleCount <= 0) return;
    const rate = sampleCount / (elapsedMs / 1000);
    const prev = this.rates.get(workerId);
    this.rates.set(workerId, prev === undefined ? rate : prev + RATE_SMOOTHING * (rate - prev));
  }

  /**
   * A result was refused for its content: it counts as no throughput, so a fast worker that sends
   * only rejected results does not keep the largest share (or, as the fastest, all of it).
   */
  refused(workerId: string): void {
    const rate = this.rates.get(workerId);
    if (rate !== undefined) this.rates.set(workerId, rate * REFUSED_RATE_FACTOR);
    this.refusedInARow.set(workerId, (this.refusedInARow.get(workerId) ?? 0) + 1);
  }

  /** Whether the worker sits rounds out as too slow for a share. */
  isSpare(workerId: string): boolean {
    return this.spares.has(workerId);
  }

  /** Workers sitting out rounds because they are far slower than the rest. */
  get spareWorkers(): readonly string[] {
    return [...this.spares];
  }

  /**
   * Who takes part in the round of `step` and with what weight: equal weights, or (throughput) each
   * worker's smoothed samples/s, an unmeasured worker counting as the fleet's mean, times its
   * penalty `scale`. A worker whose share would be under half a sample is a spare (an Event when
   * that changes) until its share would be a whole sample; the fastest always takes part.
   */
  weigh(eligible: readonly string[], batch: number, step: number, scale: (w: string) => number, fx: RunEffect[]): WeightedMembers {
    // A batch smaller than the fleet (an epoch's last samples) goes to members whose last results
    // were accepted, fastest first, not to the first to join: a worker whose results are refused
    // must not get it alone round after round.
    const refused = (w: string) => this.refusedInARow.get(w) ?? 0;
    const byRate = (w: string) => this.rates.get(w) ?? Infinity;
    const rank = (a: string, b: string) => refused(a) - refused(b) || Math.sign(byRate(b) - byRate(a)) || 0;
    const ordered = eligible.length > batch ? [...eligible].sort(rank) : eligible;
    const members = ordered.slice(0, Math.min(ordered.length, batch));
    // A worker with two or more strikes takes a smaller share (halved per strike after the first).
    const scaled = members.some((w) => scale(w) < 1);
    if (members.length < 2) return { workers: members, weights: undefined };
    if (this.balance === 'equal') return { workers: members, weights: scaled ? members.map(scale) : undefined };
    const known = members.map((w) => this.rates.get(w)).filter((r): r is number => r !== undefined);
    if (known.length === 0) return { workers: members, weights: scaled ? members.map(scale) : undefined };
    const mean = known.reduce((a, r) => a + r, 0) / known.length;
    const rate = (w: string) => this.rates.get(w) ?? mean;
    const total = members.reduce((a, w) => a + rate(w), 0);
    const fastest = Math.max(...members.map(rate));
    const share = (w: string) => (batch * rate(w) * scale(w)) / total;
    const workers = members.filter((w) => rate(w) === fastest || share(w) >= (this.spares.has(w) ? UNSPARE_AT_SAMPLES : SPARE_BELOW_SAMPLES));
    for (const w of members) {
      const spare = !workers.includes(w);
      if (spare === this.spares.has(w)) continue;
      if (spare) this.spares.add(w);
      else this.spares.delete(w);
      fx.push({
        type: 'record',
        kind: spare ? 'worker_spare' : 'worker_unspared',
        workerId: w,
        detail: { step, samplesPerSec: rate(w), fastestSamplesPerSec: fastest, reason: spare ? 'too slow for a share of the global batch; kept as a spare' : 'fast enough for a share again' },
      });
    }
    return { workers, weights: workers.map((w) => rate(w) * scale(w)) };
  }
}
