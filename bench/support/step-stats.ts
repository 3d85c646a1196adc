/**
 * Small statistics for benchmark timings: medians, means, percentiles and the steady-state
 * per-step intervals of a timestamp series. Pure functions, no I/O.
 */

/** Summary of a sample of timings (ms). */
export interface TimingSummary {
  count: number;
  median: number;
  mean: number;
  min: number;
  max: number;
  p90: number;
}

function assertNonEmpty(xs: readonly number[], what: string): void {
  if (xs.length === 0) throw new Error(`${what} of an empty sample is undefined`);
}

/**
 * Linear-interpolated percentile `q` in [0, 1] of `xs` (q = 0.5 is the median).
 * @example percentile([1, 2, 3, 4], 0.5); // 2.5
 */
export function percentile(xs: readonly number[], q: number): number {
  assertNonEmpty(xs, `percentile ${q}`);
  if (!(q >= 0 && q <= 1)) throw new Error(`percentile ${q} is not in [0, 1]`);
  const s = [...xs].sort((a, b) => a - b);
  const pos = q * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/** Median of a non-empty sample. */
export function median(xs: readonly number[]): number {
  return percentile(xs, 0.5);
}

/** Arithmetic mean of a non-empty sample. */
export function mean(xs: readonly number[]): number {
  assertNonEmpty(xs, 'mean');
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Count, median, mean, min, max and 90th percentile of a non-empty sample. */
export function summarize(xs: readonly number[]): TimingSummary {
  assertNonEmpty(xs, 'summary');
  return {
    count: xs.length,
    median: median(xs),
    mean: mean(xs),
    min: Math.min(...xs),
    max: Math.max(...xs),
    p90: percentile(xs, 0.9),
  };
}

/**
 * Durations of the steps after the first `warmup` ones, from the times at which each step ended:
 * step i lasted `endTimes[i] - endTimes[i - 1]`. Needs warmup >= 1 (the first step has no start
 * in this series) and at least one step after the warm-up.
 * @example steadyStepIntervals([100, 250, 400, 560], 2); // [150, 160]
 */
export function steadyStepIntervals(endTimes: readonly number[], warmup: number): number[] {
  if (!Number.isInteger(warmup) || warmup < 1) throw new Error(`warm-up of ${warmup} steps: need an integer >= 1 to have a start time for the first measured step`);
  if (endTimes.length <= warmup) throw new Error(`${endTimes.length} step end times leave no step after a warm-up of ${warmup}`);
  const out: number[] = [];
  for (let i = warmup; i < endTimes.length; i++) {
    const d = endTimes[i]! - endTimes[i - 1]!;
    if (!(d >= 0)) throw new Error(`step end times go backwards at step ${i}: ${endTimes[i - 1]} then ${endTimes[i]}`);
    out.push(d);
  }
  return out;
}

/** Rounds to `digits` decimals, for compact JSON details. */
export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** A summary with every field rounded, for JSON details. */
export function roundedSummary(xs: readonly number[], digits = 2): TimingSummary {
  const s = summarize(xs);
  return {
    count: s.count,
    median: round(s.median, digits),
    mean: round(s.mean, digits),
    min: round(s.min, digits),
    max: round(s.max, digits),
    p90: round(s.p90, digits),
  };
}
