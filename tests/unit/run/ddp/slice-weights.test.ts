import { describe, expect, it } from 'vitest';
import { SliceWeights } from '../../../../core/run/ddp/slice-weights.ts';
import type { RunEffect } from '../../../../core/run/run-machine.ts';

const one = () => 1;
const kinds = (fx: RunEffect[]) => fx.map((e) => (e.type === 'record' ? `${e.kind}:${e.workerId}` : e.type));

describe('SliceWeights', () => {
  it('weights members by measured samples/s, an unmeasured one counting as the mean', () => {
    const w = new SliceWeights();
    w.accepted('a', 30, 1000);
    w.accepted('b', 10, 1000);
    const fx: RunEffect[] = [];
    expect(w.weigh(['a', 'b', 'c'], 12, 0, one, fx)).toEqual({ workers: ['a', 'b', 'c'], weights: [30, 10, 20] });
    expect(fx).toEqual([]);
  });

  it('a worker under half a sample is a spare until its share is a whole sample (no flapping near the line)', () => {
    const w = new SliceWeights();
    w.accepted('fast', 1000, 1000);
    w.accepted('slow', 10, 1000);
    // batch 40: slow's share is 40 x 10 / 1010 = 0.40 samples -> spare.
    let fx: RunEffect[] = [];
    expect(w.weigh(['fast', 'slow'], 40, 1, one, fx).workers).toEqual(['fast']);
    expect(kinds(fx)).toEqual(['worker_spare:slow']);
    // batch 80: 0.79 samples, above the spare line but under a whole sample: still a spare, no Event.
    fx = [];
    expect(w.weigh(['fast', 'slow'], 80, 2, one, fx).workers).toEqual(['fast']);
    expect(fx).toEqual([]);
    // batch 110: 1.09 samples: back, with an Event.
    expect(w.weigh(['fast', 'slow'], 110, 3, one, fx).workers).toEqual(['fast', 'slow']);
    expect(kinds(fx)).toEqual(['worker_unspared:slow']);
    // Now taking part, it stays in at 0.79 samples (above the spare line).
    fx = [];
    expect(w.weigh(['fast', 'slow'], 80, 4, one, fx).workers).toEqual(['fast', 'slow']);
    expect(fx).toEqual([]);
  });

  it('a refused result halves the rate and puts the worker last when the batch is smaller than the fleet', () => {
    const w = new SliceWeights();
    w.accepted('a', 10, 1000);
    w.accepted('b', 10, 1000);
    w.refused('a');
    expect(w.weigh(['a', 'b'], 1, 0, one, []).workers).toEqual(['b']);
    w.accepted('a', 10, 1000);
    expect(w.weigh(['a', 'b'], 2, 0, one, []).weights).toEqual([5 + 0.3 * (10 - 5), 10]);
  });

  it('equal balance ignores speed but keeps the penalty scale', () => {
    const w = new SliceWeights('equal');
    w.accepted('a', 1000, 1000);
    w.accepted('b', 1, 1000);
    expect(w.weigh(['a', 'b'], 8, 0, one, []).weights).toBeUndefined();
    expect(w.weigh(['a', 'b'], 8, 0, (x) => (x === 'b' ? 0.5 : 1), []).weights).toEqual([1, 0.5]);
  });
});
