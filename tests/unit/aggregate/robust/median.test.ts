import { describe, expect, it } from 'vitest';
import { createAggregator } from '../../../../core/aggregate/robust/index.ts';
import { coordinateMedian, medianSorters } from '../../../../core/aggregate/robust/median.ts';
import { inputs, randomInputs, sortedColumns } from './support.ts';

describe('median aggregator', () => {
  it('takes the middle value per coordinate (odd n, hand-computed), ignoring weights and a huge outlier', () => {
    const agg = createAggregator({ name: 'median' }, 3);
    const out = new Float32Array(3);
    const report = agg.aggregate(inputs([[1, 5, -1], [3, 2, -3], [1e6, -1e6, 0]], [1, 1, 100]), out);
    expect(Array.from(out)).toEqual([3, 2, -1]);
    expect(report.inputs.every((o) => !o.excluded && o.weight === null)).toBe(true);
  });

  it('averages the two middle values for even n (hand-computed)', () => {
    const out = new Float32Array(2);
    createAggregator({ name: 'median' }, 2).aggregate(inputs([[1, 0], [2, 10], [4, 20], [100, 30]]), out);
    expect(Array.from(out)).toEqual([3, 15]);
  });

  it('one input is itself; two are their mean', () => {
    const out = new Float32Array(2);
    const agg = createAggregator({ name: 'median' }, 2);
    agg.aggregate(inputs([[7, -7]]), out);
    expect(Array.from(out)).toEqual([7, -7]);
    agg.aggregate(inputs([[1, 2], [3, 6]]), out);
    expect(Array.from(out)).toEqual([2, 4]);
  });

  for (const n of [3, 5, 8, 16, 17, 50]) {
    it(`SIMD and JavaScript networks both equal a sort-based median (n = ${n}, ragged length)`, () => {
      const d = 4096 + 13;
      const rows = randomInputs(n, n, d).map((u) => u.values);
      const columns = sortedColumns(rows);
      for (const simd of [true, false]) {
        const out = new Float32Array(d);
        coordinateMedian(rows, out, medianSorters({ simd }));
        for (let i = 0; i < d; i++) {
          const c = columns[i]!;
          expect(out[i]).toBe(Math.fround((c[(n - 1) >> 1]! + c[n >> 1]!) / 2));
        }
      }
    });
  }
});
