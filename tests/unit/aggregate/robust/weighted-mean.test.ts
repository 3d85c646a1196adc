import { describe, expect, it } from 'vitest';
import { createAggregator } from '../../../../core/aggregate/robust/index.ts';
import { createReduceArena } from '../../../../core/aggregate/reduce-arena.ts';
import { inputs } from './support.ts';

describe('mean aggregator', () => {
  it('is the weighted mean by sample count (hand-computed) and reports each share', () => {
    const agg = createAggregator({ name: 'mean' }, 2);
    const out = new Float32Array(2);
    const report = agg.aggregate(inputs([[1, 10], [4, -2]], [1, 3]), out);
    // (1*1 + 4*3) / 4 = 3.25; (10*1 - 2*3) / 4 = 1
    expect(Array.from(out)).toEqual([3.25, 1]);
    expect(report.inputs.map((o) => o.weight)).toEqual([0.25, 0.75]);
    expect(report.inputs.every((o) => !o.excluded && o.scale === 1 && o.reason === null)).toBe(true);
    expect(agg.needsAllVectors).toBe(false);
  });

  it('runs the arena SIMD path when inputs and output are arena slots, equal to the JS path', () => {
    const arena = createReduceArena(9, 3);
    const rows = [[1, 2, 3, 4, 5, 6, 7, 8, 9], [9, 8, 7, 6, 5, 4, 3, 2, 1], [0, 0, 0, 0, 1, 1, 1, 1, 1]];
    rows.forEach((r, k) => arena.slot(k).set(r));
    const agg = createAggregator({ name: 'mean' }, 9);
    agg.aggregate(rows.map((_, k) => ({ values: arena.slot(k), weight: k + 1 })), arena.out);
    const plain = new Float32Array(9);
    agg.aggregate(inputs(rows, [1, 2, 3]), plain);
    for (let i = 0; i < 9; i++) expect(arena.out[i]).toBeCloseTo(plain[i]!, 6);
  });
});
