import { describe, expect, it } from 'vitest';
import { createAggregator } from '../../../../core/aggregate/robust/index.ts';
import { inputs } from './support.ts';

describe('bulyan aggregator', () => {
  it('Krum-selects n - 2f, then averages the n - 4f values closest to the median per coordinate (hand-computed)', () => {
    // n = 7, f = 1: theta = 5 selected, beta = 3 averaged per coordinate.
    // Coordinate 0 of the points: 0, 1, 2, 3, 4, 5 and an outlier 100; coordinate 1 all 0 except the outlier's.
    const rows = [[0, 0], [1, 0], [2, 0], [3, 0], [4, 0], [5, 0], [100, 100]];
    const out = new Float32Array(2);
    const report = createAggregator({ name: 'bulyan', f: 1 }, 2).aggregate(inputs(rows), out);
    // Krum (f = 1, nearest n' - 3): first pick among 7 with 4 neighbours: scores 0:1+4+9+16=30, 1:1+1+4+9=15, 2:4+1+1+4=10,
    // 3: 10, 4: 15, 5: 30 -> 2 (tie: the smaller vector). Then among {0,1,3,4,5,6} with 3 neighbours: 1: 1+4+9=14, 3: 1+4+4=9, 4: 1+1+9=11 -> 3.
    // Then {0,1,4,5,6}, 2 neighbours: 0: 1+16=17, 1: 1+9=10, 4: 1+9=10 -> 1. Then {0,4,5,6}, 1 neighbour: 0: 16, 4: 1, 5: 1 -> 4.
    // Then {0,5,6}: 0: 25, 5: 25 -> 0. Selected {0,1,2,3,4}; excluded 5 and the outlier 6.
    expect(report.inputs.map((o) => o.excluded)).toEqual([false, false, false, false, false, true, true]);
    // Coordinate 0 of the selected: 0..4, median 2, the 3 closest: 1, 2, 3 -> 2. Coordinate 1: 0.
    expect(Array.from(out)).toEqual([2, 0]);
  });

  it('the window grows towards the closer side of the median (hand-computed)', () => {
    const rows = [[0], [9], [10], [10.5], [11], [30], [31]];
    const out = new Float32Array(1);
    const report = createAggregator({ name: 'bulyan', f: 1 }, 1).aggregate(inputs(rows), out);
    // Krum one by one (neighbours n' - 3, at least 1), squared distances:
    // 7 left, 4 nearest: 9 scores 1 + 2.25 + 4 + 81 = 88.25, the lowest (10: 102.25, 10.5: 113, 11: 126.25).
    // 6 left, 3 nearest: 10 scores 0.25 + 1 + 100 = 101.25 (10.5: 110.75, 11: 122.25).
    // 5 left, 2 nearest: 10.5 scores 0.25 + 110.25 = 110.5 (11: 121.25, 0: 231.25).
    // 4 left, 1 nearest: 30 and 31 score 1: 30 (the smaller). 3 left {0, 11, 31}: 0 and 11 score 121: 0.
    expect(report.inputs.map((o) => o.excluded)).toEqual([false, false, false, false, true, false, true]);
    // Selected sorted: 0, 9, 10, 10.5, 30; median 10. Window: 10, then 10.5 (0.5 away, 9 is 1), then 9 (30 is 20): mean 29.5 / 3.
    expect(out[0]).toBeCloseTo(29.5 / 3, 6);
  });

  it('with too few inputs for f uses the largest f the round allows, and notes it', () => {
    const out = new Float32Array(1);
    const report = createAggregator({ name: 'bulyan', f: 2 }, 1).aggregate(inputs([[1], [2], [3], [4], [100]]), out);
    expect(report.notes[0]).toMatch(/5 inputs are too few for f = 2 \(needs n >= 4f \+ 3 = 11\); this round used f = 0/);
    // f = 0: all selected, the 5 closest to the median are all of them: the mean.
    expect(out[0]).toBeCloseTo(22, 5);
  });
});
