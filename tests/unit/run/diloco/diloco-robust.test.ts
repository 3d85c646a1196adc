import { describe, expect, it } from 'vitest';
import { createReduceArena } from '../../../../core/aggregate/reduce-arena.ts';
import { reduceWeightedMean } from '../../../../core/aggregate/reduce-weighted-mean.ts';
import { validateRunConfig } from '../../../../core/config/run-config.ts';
import { SeededRandom } from '../../../../core/data/seeded-random.ts';
import { createFlatOptimizer } from '../../../../core/optim/flat-optimizer.ts';
import { SgdSpecSchema } from '../../../../core/optim/optimizer-spec.ts';
import type { DilocoOptions } from '../../../../core/run/diloco/diloco-options.ts';
import { dilocoMode } from '../../../../core/run/diloco/diloco-mode.ts';
import { createDilocoUpdateRule } from '../../../../core/run/diloco/diloco-update-rule.ts';
import { modeSetup } from '../../../../core/run/modes.ts';
import type { LocalUpdateRule, ModeSetup, WorkerResult } from '../../../../core/run/training-mode.ts';

/** The mode's setup for a validated config, typed with its options. */
function setupOf(cfg: ReturnType<typeof validateRunConfig>, paramCount: number): ModeSetup<DilocoOptions> {
  return modeSetup(dilocoMode, cfg, { datasetSize: 10, paramCount }) as ModeSetup<DilocoOptions>;
}

const N = 40;
const ROUNDS = 4;
const OUTER = { outer_lr: 0.7, outer_momentum: 0.9, nesterov: true };
const minimal = { name: 'r', mode: 'diloco', model: { type: 'mlp', hidden: [4] }, dataset: { name: 'synthetic' }, optimizer: { name: 'sgd', lr: 0.1 }, batch_size: 4, total_updates: 1 };

function randomVector(n: number, seed: number, scale: number): Float32Array {
  const rng = new SeededRandom(seed);
  return Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale);
}

/** One round: four honest workers (unequal sample counts) and one attacker sending a huge delta with many samples. */
function roundResults(round: number): WorkerResult[] {
  const honest = [40, 25, 25, 7].map((sampleCount, k) => ({ workerId: `h${k}`, values: randomVector(N, 13 * round + k + 1, 0.3), sampleCount, loss: 1, accuracy: 0.5 }));
  const attack = Float32Array.from({ length: N }, (_, i) => (i % 2 === 0 ? 250 : -250));
  return [...honest, { workerId: 'evil', values: attack, sampleCount: 200, loss: 1, accuracy: 0.5 }];
}

/** Float64 per coordinate of 5 inputs: the median (the 3rd value) or the trimmed mean with beta 0.2 (drop 1 each side, average 3). */
function coordinateRule(rule: 'median' | 'trimmed_mean', results: readonly WorkerResult[]): Float64Array {
  return Float64Array.from({ length: N }, (_, i) => {
    const column = results.map((r) => r.values[i]!).sort((a, b) => a - b);
    return rule === 'median' ? column[2]! : (column[1]! + column[2]! + column[3]!) / 3;
  });
}

/** Float64 outer Nesterov SGD (PyTorch's formulation) over ROUNDS rounds on a given aggregate: `acc = m·acc + g; p −= lr·(g + m·acc)`. */
function outerFloat64(init: Float32Array, aggregate: (r: readonly WorkerResult[]) => Float64Array): Float64Array {
  const p = Float64Array.from(init);
  const acc = new Float64Array(N);
  for (let r = 0; r < ROUNDS; r++) {
    const g = aggregate(roundResults(r));
    for (let i = 0; i < N; i++) {
      acc[i] = OUTER.outer_momentum * acc[i]! + g[i]!;
      p[i] = p[i]! - OUTER.outer_lr * (g[i]! + OUTER.outer_momentum * acc[i]!);
    }
  }
  return p;
}

function run(rule: LocalUpdateRule, init: Float32Array, rounds = ROUNDS): Float32Array {
  const params = Float32Array.from(init);
  for (let r = 0; r < rounds; r++) rule.apply(params, roundResults(r), r);
  return params;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

const init = randomVector(N, 77, 1);

describe('diloco with a robust aggregator', () => {
  it('the diloco section selects an aggregator (strict, validated, names the field); absent it is left out', () => {
    const cfg = validateRunConfig({ ...minimal, diloco: { inner_steps: 5, aggregator: { name: 'trimmed_mean', beta: 0.2 } } });
    expect(setupOf(cfg, 3).options.aggregator).toEqual({ name: 'trimmed_mean', beta: 0.2 });
    expect(setupOf(validateRunConfig(minimal), 3).options).not.toHaveProperty('aggregator');
    expect(() => validateRunConfig({ ...minimal, diloco: { aggregator: { name: 'geomed' } } })).toThrow(/diloco\.aggregator\.name.*must be one of/);
    expect(() => validateRunConfig({ ...minimal, diloco: { aggregator: { name: 'krum', f: 1, m: 2 } } })).toThrow(/\bm\b/);
    expect(() => validateRunConfig({ ...minimal, diloco: { aggregator: { name: 'centered_clipping' } } })).toThrow(/diloco\.aggregator\.tau/);
  });

  for (const rule of ['median', 'trimmed_mean'] as const) {
    it(`${rule}: the attacker's delta does not reach the outer step, equal to the float64 formula over ${ROUNDS} rounds; the mean is moved`, () => {
      const spec = rule === 'median' ? ({ name: 'median' } as const) : ({ name: 'trimmed_mean', beta: 0.2 } as const);
      const robust = run(createDilocoUpdateRule({ ...OUTER, aggregator: spec }, N), init);
      const oracle = outerFloat64(init, (r) => coordinateRule(rule, r));
      expect(maxAbsDiff(robust, oracle)).toBeLessThan(1e-5);
      expect(maxAbsDiff(run(createDilocoUpdateRule(OUTER, N), init), oracle)).toBeGreaterThan(10);
    });
  }

  it('the mode wires the section and the rule logs the aggregator metrics beside outer_grad_norm', () => {
    const cfg = validateRunConfig({ ...minimal, diloco: { outer_momentum: 0, outer_lr: 1, aggregator: { name: 'median' } } });
    const rule = dilocoMode.createUpdateRule(setupOf(cfg, N)) as LocalUpdateRule;
    const params = Float32Array.from(init);
    const outcome = rule.apply(params, roundResults(0), 0);
    expect(Object.keys(outcome.metrics).sort()).toEqual(['aggregator_clipped', 'aggregator_excluded', 'outer_grad_norm']);
    const median = coordinateRule('median', roundResults(0));
    expect(maxAbsDiff(params, Float64Array.from(init, (w, i) => w - median[i]!))).toBeLessThan(1e-6);
  });

  it('without an aggregator the rule is bitwise the sample-weighted mean then the outer SGD, on plain arrays and on arena slots', () => {
    const rule = createDilocoUpdateRule(OUTER, N);
    const outer = createFlatOptimizer(SgdSpecSchema.parse({ name: 'sgd', lr: OUTER.outer_lr, momentum: OUTER.outer_momentum, nesterov: true }), N);
    const ruleParams = Float32Array.from(init);
    const refParams = Float32Array.from(init);
    for (let r = 0; r < ROUNDS; r++) {
      const results = roundResults(r);
      // Odd rounds on a reduce arena (the coordinator's SIMD path), even rounds on plain arrays.
      const onArena = r % 2 === 1;
      const arena = createReduceArena(N, results.length);
      const refArena = createReduceArena(N, results.length);
      if (onArena) results.forEach((x, k) => (arena.slot(k).set(x.values), refArena.slot(k).set(x.values)));
      const outcome = rule.apply(ruleParams, onArena ? results.map((x, k) => ({ ...x, values: arena.slot(k) })) : results, r, onArena ? arena.out : undefined);
      expect(Object.keys(outcome.metrics)).toEqual(['outer_grad_norm']);
      const mean = reduceWeightedMean(
        results.map((x, k) => ({ values: onArena ? refArena.slot(k) : x.values, weight: x.sampleCount })),
        onArena ? refArena.out : undefined,
      );
      outer.step(refParams, mean, OUTER.outer_lr);
    }
    expect(Array.from(ruleParams)).toEqual(Array.from(refParams));
    expect(Object.keys(rule.state().slots)).toEqual(Object.keys(outer.state().slots));
  });

  it('centered clipping keeps its center beside the outer momentum in the rule state; a rule loaded from it continues bitwise', () => {
    const options = { ...OUTER, aggregator: { name: 'centered_clipping', tau: 0.4, iterations: 3, momentum: 0.5 } } as const;
    const first = createDilocoUpdateRule(options, N);
    const params = run(first, init, 2);
    const state = first.state();
    expect(Object.keys(state.slots).sort()).toEqual(['aggregator.center', 'momentum']);
    expect(state.slots['aggregator.center']!.some((v) => v !== 0)).toBe(true);
    const resumed = createDilocoUpdateRule(options, N);
    resumed.load(state);
    expect(resumed.state()).toEqual(state);
    const a = Float32Array.from(params);
    const b = Float32Array.from(params);
    for (let r = 2; r < ROUNDS; r++) {
      first.apply(a, roundResults(r), r);
      resumed.apply(b, roundResults(r), r);
    }
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(() => createDilocoUpdateRule(options, N).load({ ...state, slots: { momentum: state.slots.momentum! } })).toThrow(/expected \[center\]/);
  });
});
