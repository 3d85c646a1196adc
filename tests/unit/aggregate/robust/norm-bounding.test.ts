import { describe, expect, it } from 'vitest';
import { createAggregator } from '../../../../core/aggregate/robust/index.ts';
import { inputs } from './support.ts';

describe('norm_bounding aggregator', () => {
  it('clips each input to max_norm, then the weighted mean (hand-computed)', () => {
    const agg = createAggregator({ name: 'norm_bounding', max_norm: 5 }, 2);
    const out = new Float32Array(2);
    // (3, 4) has norm 5: kept. (30, 40) has norm 50: scaled by 0.1 to (3, 4). (0, 1) kept. Weights 1, 2, 1.
    const report = agg.aggregate(inputs([[3, 4], [30, 40], [0, 1]], [1, 2, 1]), out);
    expect(out[0]).toBeCloseTo((3 + 2 * 3 + 0) / 4, 6);
    expect(out[1]).toBeCloseTo((4 + 2 * 4 + 1) / 4, 6);
    expect(report.inputs.map((o) => o.scale)).toEqual([1, 0.1, 1]);
    expect(report.inputs[1]!.reason).toMatch(/norm 50\.00 clipped to max_norm 5/);
    expect(report.inputs[1]!.weight).toBeCloseTo(0.05, 12);
    expect(agg.needsAllVectors).toBe(false);
  });

  it('needs a positive max_norm', () => {
    expect(() => createAggregator({ name: 'norm_bounding', max_norm: 0 }, 1)).toThrow(/max_norm/);
  });
});
