import { describe, expect, it } from 'vitest';
import { createAggregator } from '../../../../core/aggregate/robust/index.ts';
import { inputs } from './support.ts';

describe('centered_clipping aggregator', () => {
  it('one iteration from zero: each input clipped to tau around the center, weighted by samples (hand-computed)', () => {
    const agg = createAggregator({ name: 'centered_clipping', tau: 1, iterations: 1 }, 2);
    const out = new Float32Array(2);
    // Inputs (0.5, 0) within tau: as is. (0, 10) at distance 10: scaled to (0, 1). Weights 1 and 1.
    const report = agg.aggregate(inputs([[0.5, 0], [0, 10]]), out);
    expect(out[0]).toBeCloseTo(0.25, 6);
    expect(out[1]).toBeCloseTo(0.5, 6);
    expect(report.inputs[0]).toMatchObject({ excluded: false, scale: 1, weight: 0.5, reason: null });
    expect(report.inputs[1]).toMatchObject({ excluded: false, scale: 0.1 });
    expect(report.inputs[1]!.reason).toMatch(/distance 10\.00 from the center clipped to tau 1/);
  });

  it('iterations move the center on: two iterations (hand-computed)', () => {
    const out = new Float32Array(1);
    // 1-D, inputs 4 and 4 (weights 1, 1), tau 1: v1 = 0 + 1 = 1; v2 = 1 + 1 = 2.
    createAggregator({ name: 'centered_clipping', tau: 1, iterations: 2 }, 1).aggregate(inputs([[4], [4]]), out);
    expect(out[0]).toBeCloseTo(2, 6);
  });

  it('momentum starts the center at momentum x the last aggregate, and that center is state for a checkpoint', () => {
    const agg = createAggregator({ name: 'centered_clipping', tau: 1, iterations: 1, momentum: 0.5 }, 1);
    const out = new Float32Array(1);
    agg.aggregate(inputs([[4]]), out); // v0 = 0 -> 1
    expect(out[0]).toBeCloseTo(1, 6);
    expect(Array.from(agg.state().center!)).toEqual([1]);
    agg.aggregate(inputs([[4]]), out); // v0 = 0.5 -> 1.5
    expect(out[0]).toBeCloseTo(1.5, 6);
    const restored = createAggregator({ name: 'centered_clipping', tau: 1, iterations: 1, momentum: 0.5 }, 1);
    restored.load(agg.state());
    restored.aggregate(inputs([[4]]), out); // v0 = 0.75 -> 1.75
    expect(out[0]).toBeCloseTo(1.75, 6);
    expect(() => restored.load({ center: Float32Array.of(NaN) })).toThrow(/non-finite/);
    expect(() => restored.load({})).toThrow(/expected \[center\]/);
    expect(createAggregator({ name: 'centered_clipping', tau: 1 }, 1).state()).toEqual({});
  });

  it('needs tau', () => {
    expect(() => createAggregator({ name: 'centered_clipping' } as never, 1)).toThrow(/tau/);
  });
});
