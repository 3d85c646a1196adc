import { describe, expect, it } from 'vitest';
import { mean, median, percentile, round, roundedSummary, steadyStepIntervals, summarize } from '../../../bench/support/step-stats.ts';

describe('percentile / median / mean', () => {
  it('interpolates linearly between order statistics, whatever the input order', () => {
    expect(percentile([4, 1, 3, 2], 0)).toBe(1);
    expect(percentile([4, 1, 3, 2], 1)).toBe(4);
    expect(percentile([4, 1, 3, 2], 0.5)).toBe(2.5);
    expect(percentile([10, 20], 0.9)).toBeCloseTo(19, 12);
    expect(median([5, 1, 9])).toBe(5);
    expect(mean([1, 2, 6])).toBe(3);
  });
  it('does not reorder its input', () => {
    const xs = [3, 1, 2];
    median(xs);
    expect(xs).toEqual([3, 1, 2]);
  });
  it('refuses an empty sample and a quantile outside [0, 1], naming it', () => {
    expect(() => median([])).toThrow(/empty sample/);
    expect(() => mean([])).toThrow(/mean of an empty sample/);
    expect(() => percentile([1], 1.5)).toThrow(/percentile 1.5 is not in \[0, 1\]/);
  });
});

describe('summarize / roundedSummary', () => {
  it('reports count, median, mean, min, max and p90', () => {
    const s = summarize([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(s).toEqual({ count: 10, median: 5.5, mean: 5.5, min: 1, max: 10, p90: 9.1 });
  });
  it('rounds every field', () => {
    expect(roundedSummary([1 / 3, 2 / 3], 3)).toEqual({ count: 2, median: 0.5, mean: 0.5, min: 0.333, max: 0.667, p90: 0.633 });
    expect(round(2.71828, 2)).toBe(2.72);
  });
});

describe('steadyStepIntervals', () => {
  it('gives the duration of every step after the warm-up from step end times', () => {
    expect(steadyStepIntervals([100, 250, 400, 560], 2)).toEqual([150, 160]);
    expect(steadyStepIntervals([0, 10, 30], 1)).toEqual([10, 20]);
  });
  it('needs a warm-up of at least one step and a step after it', () => {
    expect(() => steadyStepIntervals([1, 2, 3], 0)).toThrow(/integer >= 1/);
    expect(() => steadyStepIntervals([1, 2], 2)).toThrow(/2 step end times leave no step after a warm-up of 2/);
  });
  it('refuses times that go backwards', () => {
    expect(() => steadyStepIntervals([0, 10, 5], 1)).toThrow(/backwards at step 2: 10 then 5/);
  });
});
