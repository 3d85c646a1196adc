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
}

/** A worker's agreement state after an update. */
export interface WorkerAgreement {
  workerId: string;
  /** Cosine similarity of this update's gradient with the other workers' mean, in [-1, 1]. */
  cosine: number;
  /** Smoothed agreement. */
  agreement: number;
  observations: number;
  flagged: boolean;
  /** True on the update where the worker became flagged (or stopped being flagged). */
  changed: boolean;
}

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

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
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
  private readonly state = new Map<string, { agreement: number; observations: number; flagged: boolean }>();

  constructor(opts: AgreementOptions = {}) {
    this.alpha = opts.alpha ?? 0.2;
    this.threshold = opts.threshold ?? 0.1;
    this.minObservations = opts.minObservations ?? 5;
    this.gap = opts.gap ?? 0.2;
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
      return { workerId, cosine, agreement, observations: (prev?.observations ?? 0) + 1, wasFlagged: prev?.flagged ?? false };
    });
    return observed.map((o, i) => {
      const others = observed.filter((_, j) => j !== i).map((x) => x.agreement);
      const low = o.observations >= this.minObservations && o.agreement < this.threshold;
      const flagged = low && (o.wasFlagged || median(others) - o.agreement >= this.gap);
      this.state.set(o.workerId, { agreement: o.agreement, observations: o.observations, flagged });
      return { workerId: o.workerId, cosine: o.cosine, agreement: o.agreement, observations: o.observations, flagged, changed: flagged !== o.wasFlagged };
    });
  }

  /** The current state of a worker, if it was observed. */
  get(workerId: string): { agreement: number; observations: number; flagged: boolean } | undefined {
    return this.state.get(workerId);
  }
}
