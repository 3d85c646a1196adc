/**
 * Tracks how well each worker's gradients agree with the rest of the fleet, to flag a worker
 * whose backend computes something else (a broken kernel, a read-back returning zeros, a tampered
 * client): per update the cosine similarity between its gradient and the weighted mean of the
 * OTHER workers' gradients (leave-one-out, so a worker is not compared with itself), smoothed with
 * an exponential moving average. Honest workers on disjoint slices of one batch point roughly the
 * same way (cosine well above 0); a zero or unrelated gradient sits near 0. With fewer than three
 * contributions the odd one out cannot be told apart, so nothing is observed.
 *
 * Low agreement alone is not enough: near convergence every worker's gradient is mostly sampling
 * noise and all cosines drift towards 0. A worker is flagged only when it falls below the threshold
 * while the other contributors, by their median, agree at least `gap` better than it does; once
 * flagged it stays flagged until its own agreement is back above the threshold.
 *
 * Direction is not all: a worker can point roughly the fleet's way with a gradient many times
 * too long, or a sign-flipped one so long that it drags the mean. So each contribution's norm is
 * also compared with the median norm of the others (`normRatio`); its smoothed log10 ratio at or
 * above log10(`normRatio`) flags it as a norm outlier from its first observation (honest slices
 * of one batch differ in norm by small factors). It stays flagged until the smoothed ratio is back
 * below the threshold and its direction agrees.
 */
export interface AgreementOptions {
  /** EMA weight of the newest observation (default 0.2). */
  alpha?: number;
  /** A worker is flagged when its smoothed agreement falls below this (default 0.1). */
  threshold?: number;
  /** Observations needed before a worker can be flagged (default 5). */
  minObservations?: number;
  /** How much better the others' median agreement must be for a worker to be flagged (default 0.2). */
  gap?: number;
  /** A worker whose norm is this many times the others' median norm (smoothed geometrically) is a norm outlier (default 10). */
  normRatio?: number;
}

/** A worker's agreement state after an update. */
export interface WorkerAgreement {
  workerId: string;
  /** Cosine similarity of this update's gradient with the other workers' mean, in [-1, 1]. */
  cosine: number;
  /** Smoothed agreement. */
  agreement: number;
  observations: number;
  /** This update's norm over the median norm of the other contributions. */
  normRatio: number;
  /** Smoothed (geometric) norm ratio. */
  smoothedNormRatio: number;
  /** Flagged for its norm (else, when flagged, for its direction). */
  normOutlier: boolean;
  flagged: boolean;
  /** True on the update where the worker became flagged (or stopped being flagged). */
  changed: boolean;
}

/** Beyond this log10 ratio a norm says nothing more (and an all-zero fleet gives no Infinity). */
const MAX_LOG_RATIO = 12;

/** Cosine similarity of two equal-length vectors (0 when either is all zeros). Float64 accumulation. */
export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  if (na === 0 || nb === 0) return 0;
  return dot / Math.sqrt(na * nb);
}

/**
 * For each element, the median of all the others (the mean of the middle two when they are an
 * even number), from one sort: O(n log n) for all of them.
 * @example leaveOneOutMedians([1, 2, 3, 10]) // [3, 3, 2, 2]
 */
export function leaveOneOutMedians(xs: readonly number[]): number[] {
  const order = xs.map((_, i) => i).sort((a, b) => xs[a]! - xs[b]!);
  const sorted = order.map((i) => xs[i]!);
  const m = xs.length - 1;
  const out = new Array<number>(xs.length);
  order.forEach((original, p) => {
    // The q-th smallest of the others is sorted[q] below p, sorted[q + 1] from p on.
    const at = (q: number) => sorted[q < p ? q : q + 1]!;
    out[original] = m <= 0 ? NaN : m % 2 === 1 ? at((m - 1) / 2) : (at(m / 2 - 1) + at(m / 2)) / 2;
  });
  return out;
}

/**
 * Per-worker agreement tracker.
 * @example
 * const tracker = new GradientAgreementTracker();
 * for (const w of tracker.observe([{ workerId: 'a', values: ga, weight: 32 }, ...])) if (w.changed && w.flagged) warn(w);
 */
export class GradientAgreementTracker {
  private readonly alpha: number;
  /** A worker is flagged below this smoothed agreement (when the others agree better by `gap`). */
  readonly threshold: number;
  private readonly minObservations: number;
  private readonly gap: number;
  /** A worker is a norm outlier when its smoothed norm ratio to the others' median reaches this. */
  readonly normRatio: number;
  private readonly state = new Map<string, { agreement: number; observations: number; flagged: boolean; logRatio: number; normOutlier: boolean }>();

  constructor(opts: AgreementOptions = {}) {
    this.alpha = opts.alpha ?? 0.2;
    this.threshold = opts.threshold ?? 0.1;
    this.minObservations = opts.minObservations ?? 5;
    this.gap = opts.gap ?? 0.2;
    this.normRatio = opts.normRatio ?? 10;
  }

  /**
   * Records one update: `contributions` are the workers' gradients with their weights (sample
   * counts). Needs at least three contributions (else returns []).
   */
  observe(contributions: readonly { workerId: string; values: Float32Array; weight: number }[]): WorkerAgreement[] {
    if (contributions.length < 3) return [];
    const n = contributions[0]!.values.length;
    const totalWeight = contributions.reduce((a, c) => a + c.weight, 0);
    const sum = new Float64Array(n);
    for (const c of contributions) for (let i = 0; i < n; i++) sum[i]! += c.weight * c.values[i]!;
    const observed = contributions.map(({ workerId, values, weight }) => {
      // cos(g, S - w g) where S is the weighted sum: the others' direction (their mean, unnormalised).
      let dot = 0;
      let ng = 0;
      let no = 0;
      for (let i = 0; i < n; i++) {
        const g = values[i]!;
        const o = sum[i]! - weight * g;
        dot += g * o;
        ng += g * g;
        no += o * o;
      }
      const cosine = ng === 0 || no === 0 || totalWeight === weight ? 0 : dot / Math.sqrt(ng * no);
      const prev = this.state.get(workerId);
      const agreement = prev ? (1 - this.alpha) * prev.agreement + this.alpha * cosine : cosine;
      return { workerId, cosine, agreement, norm: Math.sqrt(ng), observations: (prev?.observations ?? 0) + 1, prev };
    });
    const outlierLog = Math.log10(this.normRatio);
    // Each worker against the median of the others: one sort per quantity, not one per worker.
    const othersNorms = leaveOneOutMedians(observed.map((x) => x.norm));
    const othersAgreements = leaveOneOutMedians(observed.map((x) => x.agreement));
    return observed.map((o, i) => {
      const othersNorm = othersNorms[i]!;
      const normRatio = othersNorm > 0 ? o.norm / othersNorm : o.norm > 0 ? Infinity : 1;
      const logNow = normRatio === Infinity ? MAX_LOG_RATIO : normRatio === 0 ? -MAX_LOG_RATIO : Math.max(-MAX_LOG_RATIO, Math.min(MAX_LOG_RATIO, Math.log10(normRatio)));
      const logRatio = o.prev ? (1 - this.alpha) * o.prev.logRatio + this.alpha * logNow : logNow;
      const wasFlagged = o.prev?.flagged ?? false;
      const low = o.observations >= this.minObservations && o.agreement < this.threshold;
      const directionFlag = low && (wasFlagged || othersAgreements[i]! - o.agreement >= this.gap);
      const normOutlier = logRatio >= outlierLog;
      // A norm outlier stays flagged until both its norm and its direction are back in line.
      const flagged = normOutlier || directionFlag || (wasFlagged && (o.prev?.normOutlier ?? false) && low);
      this.state.set(o.workerId, { agreement: o.agreement, observations: o.observations, flagged, logRatio, normOutlier });
      return {
        workerId: o.workerId,
        cosine: o.cosine,
        agreement: o.agreement,
        observations: o.observations,
        normRatio,
        smoothedNormRatio: 10 ** logRatio,
        normOutlier,
        flagged,
        changed: flagged !== wasFlagged,
      };
    });
  }

  /** The current state of a worker, if it was observed. */
  get(workerId: string): { agreement: number; observations: number; flagged: boolean; normOutlier: boolean } | undefined {
    const s = this.state.get(workerId);
    return s && { agreement: s.agreement, observations: s.observations, flagged: s.flagged, normOutlier: s.normOutlier };
  }
}
