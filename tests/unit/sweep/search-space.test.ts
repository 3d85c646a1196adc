import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SeededRandom } from '../../../core/data/seeded-random.ts';
import {
  enumerateGrid,
  gridPoint,
  gridSize,
  isLegalValue,
  legalNumber,
  ParamSpecSchema,
  sampleParam,
  type ParamSpec,
  type SearchSpace,
} from '../../../core/sweep/search-space.ts';

/** Arbitrary numeric parameter specs with valid bounds. */
const numericSpec: fc.Arbitrary<ParamSpec> = fc.oneof(
  fc.tuple(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.double({ min: 1e-6, max: 1e6, noNaN: true })).map(([low, width]) => ParamSpecSchema.parse({ type: 'uniform', low, high: low + width })),
  fc.tuple(fc.double({ min: 1e-8, max: 1e3, noNaN: true }), fc.double({ min: 1.001, max: 1e6, noNaN: true })).map(([low, ratio]) => ParamSpecSchema.parse({ type: 'loguniform', low, high: low * ratio })),
  fc.tuple(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 0, max: 1000 })).map(([low, width]) => ParamSpecSchema.parse({ type: 'int', low, high: low + width })),
  fc
    .tuple(fc.constantFrom(0.001, 0.01, 0.1, 0.5, 1, 8), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 200 }))
    .map(([q, k, width]) => ParamSpecSchema.parse({ type: 'qloguniform', low: k * q * 0.999, high: (k + width) * q * 1.001, q })),
);

describe('search space', () => {
  it('refuses empty, inverted and unquantizable ranges, naming the field', () => {
    expect(ParamSpecSchema.safeParse({ type: 'uniform', low: 1, high: 1 }).error?.issues[0]?.path).toEqual(['high']);
    expect(ParamSpecSchema.safeParse({ type: 'int', low: 3, high: 2 }).error?.issues[0]?.message).toMatch(/high \(2\) must be at least low \(3\)/);
    expect(ParamSpecSchema.safeParse({ type: 'loguniform', low: 0, high: 1 }).success).toBe(false);
    expect(ParamSpecSchema.safeParse({ type: 'qloguniform', low: 1.1, high: 1.9, q: 1 }).error?.issues[0]?.path).toEqual(['q']);
    expect(ParamSpecSchema.safeParse({ type: 'choice', values: [] }).success).toBe(false);
    expect(ParamSpecSchema.safeParse({ type: 'normal', mu: 0 }).error?.issues[0]?.message).toMatch(/choice|type/);
    expect(ParamSpecSchema.parse({ type: 'int', low: 2, high: 2 })).toEqual({ type: 'int', low: 2, high: 2 });
  });

  it('property: every sample lies inside its range (integral for int, a multiple of q for qloguniform)', () => {
    fc.assert(
      fc.property(numericSpec, fc.integer({ min: 0, max: 2 ** 31 - 1 }), (spec, seed) => {
        const rng = new SeededRandom(seed);
        for (let i = 0; i < 20; i++) {
          const v = sampleParam(spec, rng);
          if (!isLegalValue(spec, v)) return false;
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });

  it('property: legalNumber maps any real into the range', () => {
    fc.assert(
      fc.property(numericSpec, fc.double({ min: -1e9, max: 1e9, noNaN: true }), (spec, x) => spec.type !== 'choice' && spec.type !== 'grid' && isLegalValue(spec, legalNumber(spec, x))),
      { numRuns: 300 },
    );
  });

  it('loguniform samples are uniform in log space (half of them below the geometric mean)', () => {
    const spec = ParamSpecSchema.parse({ type: 'loguniform', low: 1e-4, high: 1 });
    const rng = new SeededRandom(3);
    let below = 0;
    const n = 4000;
    for (let i = 0; i < n; i++) if ((sampleParam(spec, rng) as number) < 1e-2) below++;
    // Binomial(4000, 0.5): sd 31.6; 5 sd either side.
    expect(Math.abs(below - n / 2)).toBeLessThan(160);
  });

  it('int samples hit every integer of the range, both ends included', () => {
    const spec = ParamSpecSchema.parse({ type: 'int', low: -2, high: 3 });
    const rng = new SeededRandom(5);
    const seen = new Set<unknown>();
    for (let i = 0; i < 500; i++) seen.add(sampleParam(spec, rng));
    expect([...seen].sort((a, b) => (a as number) - (b as number))).toEqual([-2, -1, 0, 1, 2, 3]);
  });

  it('enumerates the grid in itertools.product order', () => {
    const space: SearchSpace = {
      'optimizer.lr': ParamSpecSchema.parse({ type: 'grid', values: [0.1, 0.01] }),
      'model.hidden': ParamSpecSchema.parse({ type: 'choice', values: [[32], [64], [64, 32]] }),
    };
    expect(gridSize(space)).toBe(6);
    expect(enumerateGrid(space)).toEqual([
      { 'optimizer.lr': 0.1, 'model.hidden': [32] },
      { 'optimizer.lr': 0.1, 'model.hidden': [64] },
      { 'optimizer.lr': 0.1, 'model.hidden': [64, 32] },
      { 'optimizer.lr': 0.01, 'model.hidden': [32] },
      { 'optimizer.lr': 0.01, 'model.hidden': [64] },
      { 'optimizer.lr': 0.01, 'model.hidden': [64, 32] },
    ]);
    expect(() => gridPoint(space, 6)).toThrow(/outside the grid of 6 points/);
  });

  it('refuses to enumerate a continuous parameter, naming it', () => {
    const space: SearchSpace = { 'optimizer.lr': ParamSpecSchema.parse({ type: 'uniform', low: 0, high: 1 }) };
    expect(() => gridSize(space)).toThrow(/space\.optimizer\.lr is uniform/);
  });

  it('property: the grid covers the product of the value lists exactly once', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }), (sizes) => {
        const space: SearchSpace = Object.fromEntries(sizes.map((n, i) => [`p${i}`, ParamSpecSchema.parse({ type: 'grid', values: Array.from({ length: n }, (_, j) => `v${j}`) })]));
        const points = enumerateGrid(space).map((p) => JSON.stringify(sizes.map((_, i) => p[`p${i}`])));
        // Independent oracle: the product built by nested expansion.
        let product: string[][] = [[]];
        for (const n of sizes) product = product.flatMap((prefix) => Array.from({ length: n }, (_, j) => [...prefix, `v${j}`]));
        const expected = product.map((p) => JSON.stringify(p));
        return points.length === expected.length && new Set(points).size === points.length && expected.every((e, i) => e === points[i]);
      }),
      { numRuns: 200 },
    );
  });
});
