/**
 * Property tests (fast-check) over every registered aggregator: permutation invariance, the
 * mean on identical inputs, bounded influence of one outlier (and the mean's lack of it), and
 * no NaN ever in the output. Vectors come from a seeded generator (fast-check draws the seed,
 * count, length and outlier), so exact ties between distinct inputs do not occur.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AGGREGATORS, createAggregator, type AggregatorInput, type AggregatorSpecInput } from '../../../../core/aggregate/robust/index.ts';
import { SeededRandom } from '../../../../core/data/seeded-random.ts';
import { distance, randomInputs } from './support.ts';

const TAU = 1e4; // centered clipping's radius, far above the honest vectors (|x| <= ~30) so identical inputs are reached
const SPECS: Record<keyof typeof AGGREGATORS, AggregatorSpecInput> = {
  mean: { name: 'mean' },
  median: { name: 'median' },
  trimmed_mean: { name: 'trimmed_mean', beta: 0.2 },
  krum: { name: 'krum', f: 1 },
  multi_krum: { name: 'multi_krum', f: 1 },
  bulyan: { name: 'bulyan', f: 1 },
  centered_clipping: { name: 'centered_clipping', tau: TAU, iterations: 3 },
  norm_bounding: { name: 'norm_bounding', max_norm: 1e4 },
};

function run(spec: AggregatorSpecInput, ins: readonly AggregatorInput[]) {
  const d = ins[0]!.values.length;
  const out = new Float32Array(d);
  const report = createAggregator(spec, d).aggregate(ins, out);
  return { out, report };
}

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const rng = new SeededRandom(seed);
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

const seed = fc.integer({ min: 1, max: 2 ** 31 - 1 });
const count = fc.integer({ min: 7, max: 12 }); // >= 4f + 3 for f = 1: every rule's guarantee holds
const length = fc.integer({ min: 1, max: 40 });

describe.each(Object.keys(SPECS) as (keyof typeof SPECS)[])('%s properties', (name) => {
  const spec = SPECS[name];

  it('is invariant to the order of its inputs', () => {
    fc.assert(
      fc.property(seed, count, length, (s, n, d) => {
        const ins = randomInputs(s, n, d);
        const a = run(spec, ins).out;
        const b = run(spec, shuffled(ins, s + 1)).out;
        for (let i = 0; i < d; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(a[i]!)));
      }),
      { numRuns: 40 },
    );
  });

  it('equals the mean (the input itself) when every input is the same', () => {
    fc.assert(
      fc.property(seed, count, length, (s, n, d) => {
        const x = randomInputs(s, 1, d)[0]!.values;
        const ins = Array.from({ length: n }, (_, k) => ({ values: x.slice(), weight: 1 + (k % 3) }));
        const { out, report } = run(spec, ins);
        for (let i = 0; i < d; i++) expect(Math.abs(out[i]! - x[i]!)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(x[i]!)));
        expect(report.inputs.filter((o) => o.scale < 1)).toEqual([]);
      }),
      { numRuns: 30 },
    );
  });

  it('never lets a NaN or an infinity through; NaN inputs are left out', () => {
    fc.assert(
      fc.property(seed, count, length, fc.integer({ min: 1, max: 3 }), fc.constantFrom(NaN, Infinity, -Infinity), (s, n, d, bad, poison) => {
        const ins = randomInputs(s, n, d);
        const rng = new SeededRandom(s ^ 0x5bd1e995);
        const poisoned = new Set(Array.from({ length: bad }, () => rng.int(n)));
        for (const k of poisoned) ins[k]!.values[rng.int(d)] = poison;
        const { out, report } = run(spec, ins);
        expect(Array.from(out).every(Number.isFinite)).toBe(true);
        if (Number.isNaN(poison)) for (const k of poisoned) expect(report.inputs[k]!.excluded).toBe(true);
      }),
      { numRuns: 40 },
    );
  });
});

describe('bounded influence of one outlier', () => {
  /** Honest inputs plus input 0 replaced by a sign-flipped copy of their mean direction scaled to `scale`. */
  function attacked(s: number, n: number, d: number, scale: number): { honest: AggregatorInput[]; all: AggregatorInput[] } {
    const all = randomInputs(s, n, d);
    const honest = all.slice(1);
    const attacker = all[0]!.values;
    const norm = Math.hypot(...attacker) || 1;
    for (let i = 0; i < d; i++) attacker[i] = (-attacker[i]! / norm) * scale;
    return { honest, all };
  }

  const coordinateWise = ['median', 'trimmed_mean', 'bulyan', 'krum', 'multi_krum'] as const;
  it.each(coordinateWise)('%s stays within the honest inputs\u2019 range per coordinate, however large the outlier', (name) => {
    fc.assert(
      fc.property(seed, count, length, fc.constantFrom(1e3, 1e6, 1e30), (s, n, d, scale) => {
        const { honest, all } = attacked(s, n, d, scale);
        const { out } = run(SPECS[name], all);
        for (let i = 0; i < d; i++) {
          const col = honest.map((u) => u.values[i]!);
          expect(out[i]).toBeGreaterThanOrEqual(Math.min(...col) - 1e-5);
          expect(out[i]).toBeLessThanOrEqual(Math.max(...col) + 1e-5);
        }
      }),
      { numRuns: 30 },
    );
  });

  it('centered_clipping moves by at most iterations x tau x the outlier\u2019s share, however large it is', () => {
    fc.assert(
      fc.property(seed, count, length, fc.constantFrom(1e3, 1e6, 1e30), (s, n, d, scale) => {
        const spec = { name: 'centered_clipping', tau: 10, iterations: 1 } as const;
        const { honest, all } = attacked(s, n, d, scale);
        const total = all.reduce((a, u) => a + u.weight, 0);
        const withOutlier = run(spec, all).out;
        // The same round with the outlier at the origin (the center): its pull is gone, the others' is unchanged.
        const neutral = run(spec, [{ values: new Float32Array(d), weight: all[0]!.weight }, ...honest]).out;
        expect(distance(withOutlier, neutral)).toBeLessThanOrEqual((1 * 10 * all[0]!.weight) / total + 1e-4);
      }),
      { numRuns: 30 },
    );
  });

  it('norm_bounding moves by at most 2 x max_norm x the outlier\u2019s share, however large it is', () => {
    fc.assert(
      fc.property(seed, count, length, fc.constantFrom(1e3, 1e6, 1e30), (s, n, d, scale) => {
        const spec = { name: 'norm_bounding', max_norm: 5 } as const;
        const { all } = attacked(s, n, d, scale);
        const clean = randomInputs(s, n, d);
        const total = all.reduce((a, u) => a + u.weight, 0);
        expect(distance(run(spec, all).out, run(spec, clean).out)).toBeLessThanOrEqual((2 * 5 * all[0]!.weight) / total + 1e-4);
      }),
      { numRuns: 30 },
    );
  });

  it('the mean has no such bound: one outlier drags it as far as it likes (the control)', () => {
    fc.assert(
      fc.property(seed, count, length, (s, n, d) => {
        const { all } = attacked(s, n, d, 1e6);
        const clean = randomInputs(s, n, d);
        const total = all.reduce((a, u) => a + u.weight, 0);
        expect(distance(run(SPECS.mean, all).out, run(SPECS.mean, clean).out)).toBeGreaterThan((0.9e6 * all[0]!.weight) / total);
      }),
      { numRuns: 20 },
    );
  });
});
