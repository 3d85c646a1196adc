import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mergeMean, sampleWeightedMean } from '../../../core/run/sample-weighted-mean.ts';

describe('sampleWeightedMean', () => {
  it('equals sum(n x v) / N on a hand-computed case and is 0 over no samples', () => {
    expect(sampleWeightedMean([{ sampleCount: 1, value: 2 }, { sampleCount: 3, value: 6 }])).toBeCloseTo((2 + 18) / 4, 12);
    expect(sampleWeightedMean([])).toBe(0);
  });

  it('stays finite at the edge of float64, where sum(n x v) overflows', () => {
    const items = [{ sampleCount: 8, value: 1e308 }, { sampleCount: 8, value: 1 }];
    expect(items.reduce((a, x) => a + x.sampleCount * x.value, 0)).toBe(Infinity);
    expect(sampleWeightedMean(items)).toBeCloseTo(0.5e308, -300);
    expect(sampleWeightedMean([{ sampleCount: 5, value: Number.MAX_VALUE }, { sampleCount: 3, value: Number.MAX_VALUE }])).toBeLessThanOrEqual(Number.MAX_VALUE);
  });

  it('merging running means equals the mean of all values (fast-check, float64 formula as the oracle)', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ n: fc.integer({ min: 1, max: 1000 }), v: fc.double({ min: -1e6, max: 1e6, noNaN: true }) }), { minLength: 1, maxLength: 20 }), (xs) => {
        let mean = 0;
        let count = 0;
        for (const x of xs) {
          mean = mergeMean(mean, count, x.v, x.n);
          count += x.n;
        }
        const oracle = xs.reduce((a, x) => a + x.n * x.v, 0) / count;
        expect(Math.abs(mean - oracle)).toBeLessThanOrEqual(1e-9 * Math.max(1, ...xs.map((x) => Math.abs(x.v))));
      }),
    );
  });
});
