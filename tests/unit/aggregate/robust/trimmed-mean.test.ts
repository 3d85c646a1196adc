import { describe, expect, it } from 'vitest';
import { createAggregator } from '../../../../core/aggregate/robust/index.ts';
import { coordinateTrimmedMean, trimCount, trimmedMeanSorters } from '../../../../core/aggregate/robust/trimmed-mean.ts';
import { inputs, randomInputs, sortedColumns } from './support.ts';

describe('trimmed_mean aggregator', () => {
  it('drops floor(beta n) from each end per coordinate and averages the rest (hand-computed)', () => {
    const agg = createAggregator({ name: 'trimmed_mean', beta: 0.2 }, 2);
    const out = new Float32Array(2);
    // n = 5, beta 0.2: one cut from each end. Column 0: [-100, 1, 2, 3, 1000] -> (1 + 2 + 3) / 3 = 2.
    const report = agg.aggregate(inputs([[1, 4], [-100, 5], [2, 6], [1000, -50], [3, 7]]), out);
    // Column 1: [-50, 4, 5, 6, 7] -> (4 + 5 + 6) / 3 = 5.
    expect(Array.from(out)).toEqual([2, 5]);
    expect(report.notes).toEqual([]);
  });

  it('with too few inputs to trim anything it is the plain mean, and says so', () => {
    const agg = createAggregator({ name: 'trimmed_mean', beta: 0.2 }, 1);
    const out = new Float32Array(1);
    const report = agg.aggregate(inputs([[1], [2], [6]]), out);
    expect(out[0]).toBeCloseTo(3, 6);
    expect(report.notes[0]).toMatch(/trim none \(need at least 5\)/);
  });

  it('refuses beta >= 0.5 at parse time, naming it', () => {
    expect(() => createAggregator({ name: 'trimmed_mean', beta: 0.5 }, 1)).toThrow(/beta must be below 0.5/);
  });

  for (const [n, beta] of [[7, 0.3], [16, 0.1], [16, 0.2], [33, 0.25]] as const) {
    it(`SIMD and JavaScript both equal a sort-based trimmed mean (n = ${n}, beta = ${beta})`, () => {
      const d = 4096 + 7;
      const rows = randomInputs(n * 7, n, d).map((u) => u.values);
      const b = trimCount(beta, n);
      const columns = sortedColumns(rows);
      for (const simd of [true, false]) {
        const out = new Float32Array(d);
        coordinateTrimmedMean(rows, out, beta, trimmedMeanSorters(beta, { simd }));
        for (let i = 0; i < d; i++) {
          const kept = columns[i]!.slice(b, n - b);
          expect(out[i]).toBeCloseTo(kept.reduce((s, v) => s + v, 0) / kept.length, 5);
        }
      }
    });
  }
});
