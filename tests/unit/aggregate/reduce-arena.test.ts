import { describe, it, expect } from 'vitest';
import { createReduceArena } from '../../../core/aggregate/reduce-arena.ts';
import { arenaKernelOf } from '../../../core/aggregate/reduce-arena.ts';
import { reduceWeightedMean } from '../../../core/aggregate/reduce-weighted-mean.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';

function fillRandom(v: Float32Array, seed: number): void {
  let a = seed >>> 0;
  for (let i = 0; i < v.length; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    v[i] = (a / 4294967296) * 2 - 1;
  }
}

describe('ReduceArena', () => {
  it('uses the WebAssembly SIMD kernel on Node 20', () => {
    const arena = createReduceArena(10, 2);
    expect(arena.simd).toBe(true);
    expect(arenaKernelOf(arena.out.buffer)).toBeDefined();
  });

  // 10_003 is not a multiple of 4 (padded tail) and spans more than one 16384-float block only
  // for the larger case; counts 1..9 exercise the zero-slot padding of groups of four.
  for (const [length, count] of [[10_003, 1], [10_003, 3], [10_003, 4], [40_001, 5], [40_001, 9]] as const) {
    it(`SIMD path equals the JS path within 1e-6 (${count} slots of ${length})`, () => {
      const arena = createReduceArena(length, count);
      const updates = Array.from({ length: count }, (_, k) => {
        fillRandom(arena.slot(k), k + 7);
        return { values: arena.slot(k), weight: 1 + k * 3 };
      });
      arena.out.fill(Number.NaN); // the first group must overwrite, not accumulate
      const simd = reduceWeightedMean(updates, arena.out);
      expect(simd).toBe(arena.out);
      const js = reduceWeightedMean(updates.map((u) => ({ values: u.values.slice(), weight: u.weight })));
      let worst = 0;
      for (let i = 0; i < length; i++) worst = Math.max(worst, Math.abs(simd[i]! - js[i]!));
      expect(worst).toBeLessThanOrEqual(1e-6);
      // And the result is a real weighted mean, not zeros: compare one element by hand.
      const total = updates.reduce((s, u) => s + u.weight, 0);
      const expected0 = updates.reduce((s, u) => s + u.values[0]! * u.weight, 0) / total;
      expect(simd[0]).toBeCloseTo(expected0, 6);
    });
  }

  it('does not write past the output slot into neighbouring slots', () => {
    const arena = createReduceArena(5, 2); // slots padded to 8 floats
    arena.slot(0).fill(1);
    arena.slot(1).fill(3);
    const slot1Before = Array.from(arena.slot(1));
    reduceWeightedMean([{ values: arena.slot(0), weight: 1 }, { values: arena.slot(1), weight: 1 }], arena.out);
    expect(Array.from(arena.out)).toEqual([2, 2, 2, 2, 2]);
    expect(Array.from(arena.slot(1))).toEqual(slot1Before);
  });

  it('falls back to the JS path for views that are not whole slots', () => {
    const arena = createReduceArena(8, 2);
    arena.slot(0).fill(2);
    const out = new Float32Array(4);
    reduceWeightedMean([{ values: arena.slot(0).subarray(1, 5), weight: 1 }], out);
    expect(Array.from(out)).toEqual([2, 2, 2, 2]);
  });

  it('rejects bad sizes and slot indices', () => {
    expect(() => createReduceArena(0, 1)).toThrow(CrowdtrainError);
    expect(() => createReduceArena(2 ** 31, 4)).toThrow(/4 GiB/);
    expect(() => createReduceArena(4, 2).slot(2)).toThrow(/slot 2 does not exist/);
  });
});
