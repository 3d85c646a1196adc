import { describe, expect, it } from 'vitest';
import { createAggregator } from '../../../../core/aggregate/robust/index.ts';
import { krumScores, pairwiseSquaredDistances } from '../../../../core/aggregate/robust/pairwise-distances.ts';
import { inputs, randomInputs } from './support.ts';

// Five points on a line, the last far off. f = 1: each score sums the n - f - 2 = 2 nearest squared distances.
// 0: d2 to 1,2,3,10 = 1,4,9,100 -> 1 + 4 = 5;   1: 1,1,4,81 -> 2;   2: 4,1,1,64 -> 2;   3: 9,4,1,49 -> 5;   10: 100,81,64,49 -> 113.
const LINE = [[0], [1], [2], [3], [10]];

describe('krum aggregator', () => {
  it('pairwise distances and scores match the hand-computed ones', () => {
    const rows = inputs(LINE).map((u) => u.values);
    const d2 = pairwiseSquaredDistances(rows);
    expect(d2[0 * 5 + 4]).toBe(100);
    expect(d2[4 * 5 + 3]).toBe(49);
    expect(krumScores(d2, 5, [0, 1, 2, 3, 4], 2)).toEqual([5, 2, 2, 5, 113]);
  });

  it('selects the lowest score (ties: the smaller vector) and excludes the rest with their scores', () => {
    const out = new Float32Array(1);
    const report = createAggregator({ name: 'krum', f: 1 }, 1).aggregate(inputs(LINE), out);
    expect(out[0]).toBe(1);
    expect(report.inputs.map((o) => o.excluded)).toEqual([true, false, true, true, true]);
    expect(report.inputs[4]!.reason).toMatch(/score 113\.0 .*not among the 1 lowest \(cutoff 2\.000\)/);
    expect(report.inputs[1]!.weight).toBe(1);
  });

  it('multi_krum averages the m lowest by sample count; m defaults to n - f', () => {
    const out = new Float32Array(1);
    const report = createAggregator({ name: 'multi_krum', f: 1, m: 2 }, 1).aggregate(inputs(LINE, [1, 1, 3, 1, 1]), out);
    expect(out[0]).toBeCloseTo((1 * 1 + 2 * 3) / 4, 6);
    expect(report.inputs.map((o) => o.weight)).toEqual([0, 0.25, 0.75, 0, 0]);
    createAggregator({ name: 'multi_krum', f: 1 }, 1).aggregate(inputs(LINE), out);
    expect(out[0]).toBeCloseTo((0 + 1 + 2 + 3) / 4, 6); // n - f = 4: all but the outlier
  });

  it('with too few inputs for f it still picks one and notes it', () => {
    const out = new Float32Array(1);
    const report = createAggregator({ name: 'krum', f: 2 }, 1).aggregate(inputs([[0], [1], [5]]), out);
    expect(report.notes[0]).toMatch(/3 inputs are too few for f = 2 \(needs n >= 2f \+ 3 = 7\)/);
    expect(out[0]).toBe(0);
  });

  it('blocked distances equal a direct float64 sum on long vectors', () => {
    const rows = randomInputs(3, 4, 5000).map((u) => u.values);
    const d2 = pairwiseSquaredDistances(rows);
    let direct = 0;
    for (let i = 0; i < 5000; i++) direct += (rows[1]![i]! - rows[3]![i]!) ** 2;
    expect(d2[1 * 4 + 3]).toBeCloseTo(direct, 9);
    expect(d2[3 * 4 + 1]).toBe(d2[1 * 4 + 3]);
  });
});
