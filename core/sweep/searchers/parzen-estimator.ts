import type { SeededRandom } from '../../data/seeded-random.ts';

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** erf(x) by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7). */
export function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign * (1 - poly * Math.exp(-a * a));
}

/** The standard normal CDF. */
export function normalCdf(z: number): number {
  return 0.5 * (1 + erf(z / Math.SQRT2));
}

/** log(Σ exp(xs)), stable. */
export function logSumExp(xs: readonly number[]): number {
  let max = -Infinity;
  for (const x of xs) if (x > max) max = x;
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (const x of xs) sum += Math.exp(x - max);
  return max + Math.log(sum);
}

/**
 * Optuna's default observation weights for n trials in trial order: all 1 below 25, else a ramp
 * from 1/n to 1 over the oldest n-25 and 1 for the newest 25 (recent trials count more).
 */
export function tpeWeights(n: number): number[] {
  if (n < 25) return Array.from({ length: n }, () => 1);
  const ramp = n - 25;
  const out: number[] = [];
  for (let i = 0; i < ramp; i++) out.push(ramp === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (ramp - 1));
  for (let i = 0; i < 25; i++) out.push(1);
  return out;
}

/**
 * A Parzen estimator over one bounded real interval (Optuna's univariate TPE): a mixture of normals
 * truncated to [low, high], one per observation plus a prior N((low+high)/2, high-low). Each
 * observation's bandwidth is the larger distance to its sorted neighbours (the prior counted as a
 * point; the two outermost use their one neighbour), clipped to [(high-low)/min(100, 1+m), high-low]
 * for m components ("magic clip").
 */
export class NumericParzenEstimator {
  private readonly mus: number[];
  private readonly sigmas: number[];
  private readonly logWeights: number[];
  private readonly logMass: number[];
  private readonly weights: number[];

  /**
   * @param observations points inside [low, high]
   * @param observationWeights one weight per observation (see {@link tpeWeights})
   * @param priorWeight the prior component's weight
   */
  constructor(observations: readonly number[], observationWeights: readonly number[], private readonly low: number, private readonly high: number, priorWeight: number) {
    const range = high - low;
    const priorMu = 0.5 * (low + high);
    const points = observations.map((mu, i) => ({ mu, w: observationWeights[i]!, prior: false }));
    points.push({ mu: priorMu, w: priorWeight, prior: true });
    // Stable sort; the prior goes after the observations equal to it (numpy searchsorted 'left' puts it before: irrelevant to the density).
    points.sort((a, b) => a.mu - b.mu);
    const m = points.length;
    const sigmas = points.map((p, i) => {
      if (m === 1) return range;
      const left = i === 0 ? null : points[i - 1]!.mu;
      const right = i === m - 1 ? null : points[i + 1]!.mu;
      if (left === null) return right! - p.mu;
      if (right === null) return p.mu - left;
      return Math.max(p.mu - left, right - p.mu);
    });
    const minSigma = range / Math.min(100, 1 + m);
    this.mus = points.map((p) => p.mu);
    this.sigmas = points.map((p, i) => (p.prior ? range : Math.min(range, Math.max(minSigma, sigmas[i]!))));
    const total = points.reduce((s, p) => s + p.w, 0);
    this.weights = points.map((p) => p.w / total);
    this.logWeights = this.weights.map((w) => Math.log(w));
    this.logMass = this.mus.map((mu, i) => {
      const s = this.sigmas[i]!;
      return Math.log(Math.max(1e-300, normalCdf((high - mu) / s) - normalCdf((low - mu) / s)));
    });
  }

  /** One draw: a component by weight, then its normal truncated to [low, high] (by rejection). */
  sample(rng: SeededRandom): number {
    const k = pickIndex(this.weights, rng.next());
    const mu = this.mus[k]!;
    const sigma = this.sigmas[k]!;
    // Every centre lies in [low, high] and sigma <= high - low, so each try is accepted with probability >= 0.34.
    for (let attempt = 0; attempt < 1000; attempt++) {
      const x = mu + sigma * rng.normal();
      if (x >= this.low && x <= this.high) return x;
    }
    return Math.min(this.high, Math.max(this.low, mu));
  }

  /** The log density of the truncated mixture at x. */
  logPdf(x: number): number {
    const terms = this.mus.map((mu, i) => {
      const s = this.sigmas[i]!;
      const z = (x - mu) / s;
      return this.logWeights[i]! - Math.log(s) - LOG_SQRT_2PI - 0.5 * z * z - this.logMass[i]!;
    });
    return logSumExp(terms);
  }
}

/**
 * A Parzen estimator over the indices 0..K-1 of a categorical parameter: P(c) proportional to
 * priorWeight/K plus the weights of the observations equal to c.
 */
export class CategoricalParzenEstimator {
  private readonly probs: number[];

  constructor(observations: readonly number[], observationWeights: readonly number[], choices: number, priorWeight: number) {
    const counts = Array.from({ length: choices }, () => priorWeight / choices);
    observations.forEach((c, i) => {
      counts[c] = counts[c]! + observationWeights[i]!;
    });
    const total = counts.reduce((s, c) => s + c, 0);
    this.probs = counts.map((c) => c / total);
  }

  /** One draw of an index. */
  sample(rng: SeededRandom): number {
    return pickIndex(this.probs, rng.next());
  }

  /** log P(index). */
  logPdf(index: number): number {
    return Math.log(this.probs[index] ?? 0);
  }
}

/** The index i with cumulative weight just above u·Σw. */
function pickIndex(weights: readonly number[], u: number): number {
  let acc = 0;
  const total = weights.reduce((s, w) => s + w, 0);
  for (let i = 0; i < weights.length; i++) {
    acc += weights[i]!;
    if (u * total < acc) return i;
  }
  return weights.length - 1;
}
