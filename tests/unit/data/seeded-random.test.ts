import { describe, it, expect } from 'vitest';
import { SeededRandom, mixSeed, shuffledIndices } from '../../../core/data/seeded-random.ts';

describe('SeededRandom', () => {
  it('repeats the same sequence for the same seed and differs for another', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const c = new SeededRandom(43);
    const sa = Array.from({ length: 100 }, () => a.nextUint32());
    const sb = Array.from({ length: 100 }, () => b.nextUint32());
    const sc = Array.from({ length: 100 }, () => c.nextUint32());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
  });

  it('draws uniforms in [0, 1) with mean near 1/2 and normals with mean 0, std 1', () => {
    const rng = new SeededRandom(7);
    const n = 200_000;
    let su = 0;
    let sz = 0;
    let szz = 0;
    let outOfRange = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.next();
      if (!(u >= 0 && u < 1)) outOfRange++;
      su += u;
      const z = rng.normal();
      sz += z;
      szz += z * z;
    }
    expect(outOfRange).toBe(0);
    expect(su / n).toBeCloseTo(0.5, 2);
    expect(sz / n).toBeCloseTo(0, 1.5);
    expect(Math.sqrt(szz / n - (sz / n) ** 2)).toBeCloseTo(1, 1.5);
  });

  it('int(n) stays in range and hits every value', () => {
    const rng = new SeededRandom(3);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const k = rng.int(7);
      expect(Number.isInteger(k) && k >= 0 && k < 7).toBe(true);
      seen.add(k);
    }
    expect(seen.size).toBe(7);
  });

  it('mixSeed separates seed+epoch collisions and rejects non-integers', () => {
    expect(mixSeed(1, 2)).not.toBe(mixSeed(2, 1));
    expect(mixSeed(1, 2)).toBe(mixSeed(1, 2));
    expect(mixSeed(2 ** 40)).not.toBe(mixSeed(0));
    expect(() => mixSeed(1.5)).toThrow(/1.5/);
  });
});

describe('shuffledIndices', () => {
  it('is a deterministic permutation of 0..n-1', () => {
    const p = shuffledIndices(1000, 9);
    expect(Array.from(p).sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_v, i) => i));
    expect(Array.from(shuffledIndices(1000, 9))).toEqual(Array.from(p));
    expect(Array.from(shuffledIndices(1000, 10))).not.toEqual(Array.from(p));
    expect(shuffledIndices(0, 1)).toHaveLength(0);
    expect(Array.from(shuffledIndices(1, 1))).toEqual([0]);
  });

  it('puts each element in each position about equally often', () => {
    const n = 5;
    const trials = 20_000;
    const counts = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    for (let t = 0; t < trials; t++) {
      shuffledIndices(n, t).forEach((v, pos) => counts[v]![pos]!++);
    }
    for (const row of counts) for (const c of row) expect(Math.abs(c - trials / n)).toBeLessThan(200); // ~7 sigma
  });
});
