import { describe, it, expect } from 'vitest';
import { reduceMean, reduceWeightedMean } from '../../../core/aggregate/reduce-weighted-mean.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';
import { SeededRandom } from '../../../core/data/seeded-random.ts';

function randomVector(n: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  return Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
}

function reference(updates: Array<{ values: Float32Array; weight: number }>): Float64Array {
  const n = updates[0]!.values.length;
  const out = new Float64Array(n);
  const total = updates.reduce((s, u) => s + u.weight, 0);
  for (const u of updates) for (let i = 0; i < n; i++) out[i] = out[i]! + u.values[i]! * u.weight;
  for (let i = 0; i < n; i++) out[i] = out[i]! / total;
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

describe('reduceWeightedMean', () => {
  // Lengths that are not multiples of the block size, and every count of inputs from 1 to 9
  // (first update, pairs, and an odd remainder all exercised).
  for (const count of [1, 2, 3, 4, 5, 8, 9]) {
    it(`matches a float64 reference within 1e-6 for ${count} updates`, () => {
      const n = 10_007;
      const updates = Array.from({ length: count }, (_, k) => ({ values: randomVector(n, k + 1), weight: 1 + ((k * 37) % 11) }));
      const out = reduceWeightedMean(updates);
      expect(out.length).toBe(n);
      expect(maxAbsDiff(out, reference(updates))).toBeLessThanOrEqual(1e-6);
    });
  }

  it('weights matter: a heavy update pulls the mean toward itself', () => {
    const out = reduceWeightedMean([
      { values: new Float32Array([0, 10]), weight: 3 },
      { values: new Float32Array([4, 2]), weight: 1 },
    ]);
    expect(Array.from(out)).toEqual([1, 8]);
  });

  it('writes into the given output and returns it', () => {
    const out = new Float32Array(2).fill(99);
    const result = reduceWeightedMean([{ values: new Float32Array([1, 2]), weight: 2 }], out);
    expect(result).toBe(out);
    expect(Array.from(out)).toEqual([1, 2]);
  });

  it('reduceMean is the unweighted mean', () => {
    expect(Array.from(reduceMean([new Float32Array([1, 2]), new Float32Array([3, 6]), new Float32Array([5, 1])]))).toEqual([3, 3]);
  });

  it('rejects unequal lengths, bad weights, a wrong output and no updates', () => {
    const fail = (fn: () => unknown, code: string, text: RegExp) => {
      try {
        fn();
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(CrowdtrainError);
        expect((err as CrowdtrainError).code).toBe(code);
        expect((err as Error).message).toMatch(text);
      }
    };
    const a = new Float32Array(4);
    fail(() => reduceWeightedMean([{ values: a, weight: 1 }, { values: new Float32Array(3), weight: 1 }]), 'SHAPE_MISMATCH', /update 1 has 3 values, expected 4/);
    fail(() => reduceWeightedMean([{ values: a, weight: 0 }]), 'INVALID_MESSAGE', /update 0 has weight 0/);
    fail(() => reduceWeightedMean([{ values: a, weight: 1 }, { values: a, weight: -2 }]), 'INVALID_MESSAGE', /weight -2/);
    fail(() => reduceWeightedMean([{ values: a, weight: Number.NaN }]), 'INVALID_MESSAGE', /weight NaN/);
    fail(() => reduceWeightedMean([{ values: a, weight: Infinity }]), 'INVALID_MESSAGE', /weight Infinity/);
    fail(() => reduceWeightedMean([{ values: a, weight: 1 }], new Float32Array(5)), 'SHAPE_MISMATCH', /output has 5 values, expected 4/);
    fail(() => reduceWeightedMean([]), 'INTERNAL', /at least 1 update, got 0/);
  });
});
