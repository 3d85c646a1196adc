/**
 * Sample-weighted means of per-result statistics (loss, accuracy) that cannot overflow: each value
 * is weighted by its share of the samples (`n_i / N`, at most 1) before it is added, so the mean of
 * finite values is finite, also for a worker-reported loss of 1e308 (as `sum(n_i x loss_i) / N`
 * it would be Infinity).
 */

/** One result's value and the samples it covers. */
export interface Weighted {
  sampleCount: number;
  value: number;
}

/** The sample-weighted mean of `items` (0 when they cover no samples). */
export function sampleWeightedMean(items: readonly Weighted[]): number {
  const total = items.reduce((a, x) => a + x.sampleCount, 0);
  if (total <= 0) return 0;
  return items.reduce((a, x) => a + (x.sampleCount / total) * x.value, 0);
}

/** Merges a running mean over `count` samples with `value` over `n` more samples (overflow-free). */
export function mergeMean(mean: number, count: number, value: number, n: number): number {
  const total = count + n;
  return total <= 0 ? 0 : (count / total) * mean + (n / total) * value;
}
