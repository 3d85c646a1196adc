import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SeededRandom } from '../../../core/data/seeded-random.ts';
import { exploreParams, PbtScheduler } from '../../../core/sweep/schedulers/pbt-scheduler.ts';
import { isLegalValue, ParamSpecSchema, type SearchSpace, type Suggestion } from '../../../core/sweep/search-space.ts';

const space: SearchSpace = {
  'optimizer.lr': ParamSpecSchema.parse({ type: 'loguniform', low: 1e-4, high: 1e-1 }),
  'model.hidden.0': ParamSpecSchema.parse({ type: 'int', low: 8, high: 64 }),
  'model.activation': ParamSpecSchema.parse({ type: 'choice', values: ['relu', 'tanh', 'gelu'] }),
};
const ctx = { space, seed: 4, mode: 'max' as const, maxSteps: 100 };

const params: Record<string, Suggestion> = {
  T0: { 'optimizer.lr': 0.1, 'model.hidden.0': 60, 'model.activation': 'relu' },
  T1: { 'optimizer.lr': 0.01, 'model.hidden.0': 16, 'model.activation': 'tanh' },
  T2: { 'optimizer.lr': 0.001, 'model.hidden.0': 32, 'model.activation': 'gelu' },
  T3: { 'optimizer.lr': 0.0001, 'model.hidden.0': 8, 'model.activation': 'tanh' },
};
const accuracy: Record<string, number> = { T0: 0.9, T1: 0.5, T2: 0.7, T3: 0.2 };

function population(options: Record<string, unknown>): PbtScheduler {
  const pbt = new PbtScheduler(ctx, { perturbation_interval: 10, quantile: 0.25, ...options });
  for (const [id, p] of Object.entries(params)) pbt.onTrialAdd(id, p);
  // Everyone reports once between perturbation points: no decision yet.
  for (const id of Object.keys(params)) expect(pbt.onResult(id, 5, accuracy[id]!)).toBe('continue');
  return pbt;
}

describe('PBT scheduler', () => {
  it('at the perturbation interval, only the bottom-quantile trial exploits, the top trial is the donor, params perturbed ×0.8/×1.2 within bounds', () => {
    const pbt = population({ resample_probability: 0 });
    // 4 trials, quantile 0.25: bottom = [T3], top = [T0].
    expect(pbt.onResult('T0', 10, 0.9)).toBe('continue');
    expect(pbt.onResult('T1', 10, 0.5)).toBe('continue');
    expect(pbt.onResult('T2', 10, 0.7)).toBe('continue');
    const decision = pbt.onResult('T3', 10, 0.2);
    if (typeof decision !== 'object') throw new Error(`expected an exploit, got ${decision}`);
    expect(decision.exploit).toBe('T0');
    const p = decision.params;
    // lr 0.1 is the upper bound: ×1.2 clamps back to 0.1, ×0.8 gives 0.08.
    expect([0.1, 0.08]).toContain(p['optimizer.lr']);
    // 60 ×0.8 = 48; 60 ×1.2 = 72 clamps to 64.
    expect([48, 64]).toContain(p['model.hidden.0']);
    // relu is the first value: one step down clamps to relu, one up is tanh.
    expect(['relu', 'tanh']).toContain(p['model.activation']);
    for (const [path, spec] of Object.entries(space)) expect(isLegalValue(spec, p[path]!)).toBe(true);
    expect(pbt.paramsOf('T3')).toEqual(p);
    // Not again before another interval has passed.
    expect(pbt.onResult('T3', 15, 0.1)).toBe('continue');
  });

  it('the perturbations are the donor’s values ×0.8 or ×1.2, both seen over seeds', () => {
    const lrs = new Set<unknown>();
    for (let seed = 0; seed < 40; seed++) {
      const out = exploreParams(params.T1!, space, ['optimizer.lr'], 0, new SeededRandom(seed));
      lrs.add(out['optimizer.lr']);
      expect(out['model.hidden.0']).toBe(16);
      expect(out['model.activation']).toBe('tanh');
    }
    expect([...lrs].map((v) => Number((v as number).toPrecision(10))).sort()).toEqual([0.008, 0.012]);
  });

  it('property: explored params are always legal values (any resample probability, any seed)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.constantFrom('T0', 'T1', 'T2', 'T3'), (p, seed, donor) => {
        const out = exploreParams(params[donor]!, space, Object.keys(space), p, new SeededRandom(seed));
        return Object.entries(space).every(([path, spec]) => isLegalValue(spec, out[path]!));
      }),
      { numRuns: 300 },
    );
  });

  it('mutates only the listed parameters and copies the rest from the donor', () => {
    const pbt = population({ resample_probability: 1, mutations: ['optimizer.lr'] });
    const d = pbt.onResult('T3', 10, 0.2);
    if (typeof d !== 'object') throw new Error('expected an exploit');
    expect(d.params['model.hidden.0']).toBe(60);
    expect(d.params['model.activation']).toBe('relu');
  });

  it('an ended trial is no donor; with fewer than two ranked trials nobody exploits', () => {
    const pbt = population({ resample_probability: 0 });
    pbt.onTrialEnd('T0');
    const d = pbt.onResult('T3', 10, 0.2);
    if (typeof d !== 'object') throw new Error('expected an exploit');
    // Active: T1 .5, T2 .7, T3 .2: n = ceil(0.75) = 1, top = T2.
    expect(d.exploit).toBe('T2');
    const lonely = new PbtScheduler(ctx, { perturbation_interval: 10 });
    lonely.onTrialAdd('a', params.T0!);
    expect(lonely.onResult('a', 10, 0.1)).toBe('continue');
  });

  it('is reproducible and resumes from state() with the same decision', () => {
    const a = population({ resample_probability: 0.5 });
    const b = new PbtScheduler(ctx, { perturbation_interval: 10, quantile: 0.25, resample_probability: 0.5 });
    b.load(JSON.parse(JSON.stringify(a.state())));
    expect(b.onResult('T3', 10, 0.2)).toEqual(a.onResult('T3', 10, 0.2));
    expect(population({ resample_probability: 0.5 }).onResult('T3', 10, 0.2)).toEqual(population({ resample_probability: 0.5 }).onResult('T3', 10, 0.2));
  });

  it('names unknown mutations and results of unknown trials', () => {
    expect(() => new PbtScheduler(ctx, { perturbation_interval: 10, mutations: ['optimizer.beta1'] })).toThrow(/mutations: optimizer\.beta1 is not a parameter/);
    expect(() => new PbtScheduler(ctx, { quantile: 0.25 })).toThrow(/invalid pbt scheduler options: perturbation_interval/);
    expect(() => new PbtScheduler(ctx, { perturbation_interval: 10, quantile: 0.75 })).toThrow(/quantile/);
    expect(() => new PbtScheduler(ctx, { perturbation_interval: 10 }).onResult('ghost', 10, 1)).toThrow(/trial ghost, which was never added/);
  });
});
