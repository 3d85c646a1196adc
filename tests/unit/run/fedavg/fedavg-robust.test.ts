import { describe, expect, it } from 'vitest';
import { createReduceArena } from '../../../../core/aggregate/reduce-arena.ts';
import { reduceWeightedMean } from '../../../../core/aggregate/reduce-weighted-mean.ts';
import { validateRunConfig } from '../../../../core/config/run-config.ts';
import { SeededRandom } from '../../../../core/data/seeded-random.ts';
import { ServerOptimizerSpecSchema, type FedavgOptions, type ServerOptimizerSpec } from '../../../../core/run/fedavg/fedavg-options.ts';
import { fedavgMode } from '../../../../core/run/fedavg/fedavg-mode.ts';
import { createFedavgUpdateRule } from '../../../../core/run/fedavg/fedavg-update-rule.ts';
import { createServerOptimizer } from '../../../../core/run/fedavg/server-optimizers.ts';
import { modeSetup } from '../../../../core/run/modes.ts';
import type { LocalUpdateRule, ModeSetup, WorkerResult } from '../../../../core/run/training-mode.ts';

/** The mode's setup for a validated config, typed with its options. */
function setupOf(cfg: ReturnType<typeof validateRunConfig>, paramCount: number): ModeSetup<FedavgOptions> {
  return modeSetup(fedavgMode, cfg, { datasetSize: 10, paramCount }) as ModeSetup<FedavgOptions>;
}

const N = 48;
const ROUNDS = 3;
const minimal = { name: 'r', mode: 'fedavg', model: { type: 'mlp', hidden: [4] }, dataset: { name: 'synthetic' }, optimizer: { name: 'sgd', lr: 0.1 }, batch_size: 4, total_updates: 1 };

function randomVector(n: number, seed: number, scale: number): Float32Array {
  const rng = new SeededRandom(seed);
  return Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale);
}

/** One round: four honest clients (unequal sample counts) and an attacker claiming many samples with a huge, sign-flipped delta. */
function roundResults(round: number): WorkerResult[] {
  const honest = [64, 32, 16, 8].map((sampleCount, k) => ({ workerId: `h${k}`, values: randomVector(N, 11 * round + k + 1, 0.2), sampleCount, loss: 1, accuracy: 0.5 }));
  const attack = Float32Array.from(honest[0]!.values, (v) => -400 * v - 3);
  return [...honest, { workerId: 'evil', values: attack, sampleCount: 256, loss: 1, accuracy: 0.5 }];
}

/** Float64 robust rules per coordinate: the median (5 inputs: the 3rd value) and the trimmed mean (beta 0.2 of 5: drop 1 each side). */
function coordinateRule(rule: 'median' | 'trimmed_mean', results: readonly WorkerResult[]): Float64Array {
  return Float64Array.from({ length: N }, (_, i) => {
    const column = results.map((r) => r.values[i]!).sort((a, b) => a - b);
    return rule === 'median' ? column[2]! : (column[1]! + column[2]! + column[3]!) / 3;
  });
}

/** Float64 Krum (f = 1, n = 5): the input whose n − f − 2 = 2 nearest others have the smallest sum of squared distances. */
function krum(results: readonly WorkerResult[]): Float64Array {
  const d2 = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + (v - b[i]!) ** 2, 0);
  const scores = results.map((r, k) => {
    const near = results.filter((_, j) => j !== k).map((o) => d2(r.values, o.values)).sort((a, b) => a - b);
    return near[0]! + near[1]!;
  });
  return Float64Array.from(results[scores.indexOf(Math.min(...scores))]!.values);
}

/** Float64 FedAvgM over ROUNDS rounds on a given aggregate: `v = m·v + d; w −= lr·v`. */
function fedavgmFloat64(init: Float32Array, lr: number, momentum: number, aggregate: (r: readonly WorkerResult[]) => Float64Array): Float64Array {
  const w = Float64Array.from(init);
  const v = new Float64Array(N);
  for (let r = 0; r < ROUNDS; r++) {
    const d = aggregate(roundResults(r));
    for (let i = 0; i < N; i++) {
      v[i] = momentum * v[i]! + d[i]!;
      w[i] = w[i]! - lr * v[i]!;
    }
  }
  return w;
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

const init = randomVector(N, 99, 1);
const fedavgm: ServerOptimizerSpec = ServerOptimizerSpecSchema.parse({ name: 'fedavgm', lr: 0.5, momentum: 0.9 });

describe('fedavg with a robust aggregator', () => {
  it('the fedavg section selects an aggregator (strict, validated, names the field); absent it is left out', () => {
    const cfg = validateRunConfig({ ...minimal, fedavg: { aggregator: { name: 'trimmed_mean', beta: 0.2 } } });
    expect(setupOf(cfg, 3).options.aggregator).toEqual({ name: 'trimmed_mean', beta: 0.2 });
    expect(setupOf(validateRunConfig(minimal), 3).options).not.toHaveProperty('aggregator');
    expect(() => validateRunConfig({ ...minimal, fedavg: { aggregator: { name: 'fedmedian' } } })).toThrow(/fedavg\.aggregator\.name.*must be one of/);
    expect(() => validateRunConfig({ ...minimal, fedavg: { aggregator: { name: 'median', beta: 0.1 } } })).toThrow(/beta/);
    expect(() => validateRunConfig({ ...minimal, fedavg: { aggregator: { name: 'trimmed_mean', beta: 0.5 } } })).toThrow(/fedavg\.aggregator\.beta/);
  });

  for (const [name, spec, oracle] of [
    ['median (FedMedian)', { name: 'median' }, (r: readonly WorkerResult[]) => coordinateRule('median', r)],
    ['trimmed_mean beta 0.2 (FedTrimmedAvg)', { name: 'trimmed_mean', beta: 0.2 }, (r: readonly WorkerResult[]) => coordinateRule('trimmed_mean', r)],
    ['krum f 1', { name: 'krum', f: 1 }, krum],
  ] as const) {
    it(`${name}: an attacker's delta does not move the server step, equal to the float64 formula; the mean is moved`, () => {
      const robust = run(createFedavgUpdateRule(fedavgm, N, spec), init);
      expect(maxAbsDiff(robust, fedavgmFloat64(init, 0.5, 0.9, oracle))).toBeLessThan(1e-5);
      const mean = run(createFedavgUpdateRule(fedavgm, N), init);
      expect(maxAbsDiff(mean, fedavgmFloat64(init, 0.5, 0.9, oracle))).toBeGreaterThan(10);
    });
  }

  it('the mode wires the section: fedavgMode.createUpdateRule with `aggregator: krum` applies the Krum pick and logs the aggregator metrics', () => {
    const cfg = validateRunConfig({ ...minimal, fedavg: { aggregator: { name: 'krum', f: 1 }, server_optimizer: { name: 'fedavg', lr: 1 } } });
    const rule = fedavgMode.createUpdateRule(setupOf(cfg, N)) as LocalUpdateRule;
    const params = Float32Array.from(init);
    const outcome = rule.apply(params, roundResults(0), 0);
    expect(outcome.metrics).toMatchObject({ clients_reported: 5, aggregator_excluded: 4, aggregator_clipped: 0 });
    const expected = krum(roundResults(0));
    expect(maxAbsDiff(params, Float64Array.from(init, (w, i) => w - expected[i]!))).toBeLessThan(1e-6);
  });

  it('without an aggregator the rule is bitwise the sample-weighted mean then the server optimizer, on plain arrays and on arena slots', () => {
    for (const spec of [fedavgm, ServerOptimizerSpecSchema.parse({ name: 'fedadam' })]) {
      const rule = createFedavgUpdateRule(spec, N);
      const server = createServerOptimizer(spec, N);
      const ruleParams = Float32Array.from(init);
      const refParams = Float32Array.from(init);
      for (let r = 0; r < ROUNDS; r++) {
        const results = roundResults(r);
        // Odd rounds on a reduce arena (the coordinator's SIMD path), even rounds on plain arrays.
        const arena = createReduceArena(N, results.length);
        const onArena = r % 2 === 1;
        const inputs = onArena ? results.map((x, k) => ({ ...x, values: arena.slot(k) })) : results;
        if (onArena) results.forEach((x, k) => arena.slot(k).set(x.values));
        const outcome = rule.apply(ruleParams, inputs, r, onArena ? arena.out : undefined);
        expect(Object.keys(outcome.metrics).sort()).toEqual(['clients_reported', 'mean_delta_norm']);
        const refArena = createReduceArena(N, results.length);
        if (onArena) results.forEach((x, k) => refArena.slot(k).set(x.values));
        const mean = reduceWeightedMean(
          results.map((x, k) => ({ values: onArena ? refArena.slot(k) : x.values, weight: x.sampleCount })),
          onArena ? refArena.out : undefined,
        );
        server.step(refParams, mean);
      }
      expect(Array.from(ruleParams)).toEqual(Array.from(refParams));
      expect(Object.keys(rule.state().slots)).toEqual(Object.keys(server.state().slots));
    }
  });

  it('centered clipping keeps its center in the rule state beside the server optimizer, and a rule loaded from it continues bitwise', () => {
    const spec = { name: 'centered_clipping', tau: 0.5, iterations: 2, momentum: 1 } as const;
    const first = createFedavgUpdateRule(fedavgm, N, spec);
    const params = run(first, init, 2);
    const state = first.state();
    expect(Object.keys(state.slots).sort()).toEqual(['aggregator.center', ...Object.keys(createServerOptimizer(fedavgm, N).state().slots)].sort());
    expect(state.slots['aggregator.center']!.some((v) => v !== 0)).toBe(true);
    const resumed = createFedavgUpdateRule(fedavgm, N, spec);
    resumed.load(state);
    const a = Float32Array.from(params);
    const b = Float32Array.from(params);
    first.apply(a, roundResults(2), 2);
    resumed.apply(b, roundResults(2), 2);
    expect(Array.from(b)).toEqual(Array.from(a));
    // A fresh center (not loaded) gives another step: the center is state that matters.
    const fresh = createFedavgUpdateRule(fedavgm, N, spec);
    fresh.load({ ...state, slots: { ...state.slots, 'aggregator.center': new Float32Array(N) } });
    const c = Float32Array.from(params);
    fresh.apply(c, roundResults(2), 2);
    expect(Array.from(c)).not.toEqual(Array.from(a));
    expect(() => resumed.load({ ...state, slots: { ...state.slots, 'aggregator.center': new Float32Array(N + 1) } })).toThrow();
  });
});
