import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../../core/data/seeded-random.ts';
import { CategoricalParzenEstimator, NumericParzenEstimator, erf, tpeWeights } from '../../../core/sweep/searchers/parzen-estimator.ts';
import { RandomSearcher } from '../../../core/sweep/searchers/random-searcher.ts';
import type { Searcher } from '../../../core/sweep/searchers/searcher.ts';
import { TpeSearcher } from '../../../core/sweep/searchers/tpe-searcher.ts';
import { ParamSpecSchema, type SearchSpace, type Suggestion } from '../../../core/sweep/search-space.ts';

/** Toy objective, minimum 0 at x=0.7, y=-1.3, lr=10^-2.5, act=gelu. */
const space: SearchSpace = {
  x: ParamSpecSchema.parse({ type: 'uniform', low: -5, high: 5 }),
  y: ParamSpecSchema.parse({ type: 'uniform', low: -5, high: 5 }),
  lr: ParamSpecSchema.parse({ type: 'loguniform', low: 1e-5, high: 1 }),
  act: ParamSpecSchema.parse({ type: 'choice', values: ['relu', 'tanh', 'gelu', 'sigmoid'] }),
};
function toy(p: Suggestion): number {
  return ((p.x as number) - 0.7) ** 2 + ((p.y as number) + 1.3) ** 2 + (Math.log10(p.lr as number) + 2.5) ** 2 + (p.act === 'gelu' ? 0 : 1);
}

function bestAfter(s: Searcher, n: number, mode: 'min' | 'max'): number {
  let best = mode === 'min' ? Infinity : -Infinity;
  for (let i = 0; i < n; i++) {
    const p = s.suggest(`t${i}`)!;
    const v = mode === 'min' ? toy(p) : -toy(p);
    s.observe(`t${i}`, v);
    best = mode === 'min' ? Math.min(best, v) : Math.max(best, v);
  }
  return best;
}

/** One-sided sign-test p-value: P(X >= wins) for X ~ Binomial(n, 1/2). */
function signTestP(wins: number, n: number): number {
  let p = 0;
  for (let k = wins; k <= n; k++) {
    let c = 1;
    for (let i = 0; i < k; i++) c = (c * (n - i)) / (i + 1);
    p += c / 2 ** n;
  }
  return p;
}

describe('TPE searcher', () => {
  it.each(['min', 'max'] as const)('beats random search on a toy function over 20 paired seeds (mode %s, 50 trials, sign test p < 0.05)', (mode) => {
    // Paired: seed s gives both searchers the same 10 random start-up trials.
    let wins = 0;
    let tpeSum = 0;
    let randomSum = 0;
    for (let seed = 0; seed < 20; seed++) {
      const tpe = Math.abs(bestAfter(new TpeSearcher({ space, seed, mode }), 50, mode));
      const random = Math.abs(bestAfter(new RandomSearcher({ space, seed, mode }), 50, mode));
      if (tpe < random) wins++;
      tpeSum += tpe;
      randomSum += random;
    }
    // 15 of 20 is the smallest count with a one-sided sign-test p below 0.05 (p = 0.0207).
    expect(signTestP(15, 20)).toBeCloseTo(0.0207, 4);
    expect(wins).toBeGreaterThanOrEqual(15);
    expect(tpeSum / 20).toBeLessThan(randomSum / 20);
  });

  it('makes the same first n_startup_trials suggestions as random search for the same seed', () => {
    const tpe = new TpeSearcher({ space, seed: 5, mode: 'min' }, { n_startup_trials: 6 });
    const random = new RandomSearcher({ space, seed: 5, mode: 'min' });
    for (let i = 0; i < 6; i++) {
      expect(tpe.suggest(`t${i}`)).toEqual(random.suggest(`t${i}`));
      tpe.observe(`t${i}`, i);
      random.observe(`t${i}`, i);
    }
    expect(tpe.suggest('t6')).not.toEqual(random.suggest('t6'));
  });

  it('constant liar: parallel suggestions spread out more than without it (in at least 15 of 20 seeds)', () => {
    const xy: SearchSpace = { x: space.x!, y: space.y! };
    const f = (p: Suggestion) => ((p.x as number) - 0.7) ** 2 + ((p.y as number) + 1.3) ** 2;
    const spread = (liar: boolean, seed: number) => {
      const s = new TpeSearcher({ space: xy, seed, mode: 'min' }, { constant_liar: liar });
      for (let i = 0; i < 20; i++) s.observe(`t${i}`, f(s.suggest(`t${i}`)));
      const pending = Array.from({ length: 6 }, (_, i) => s.suggest(`p${i}`));
      let d = 0;
      let pairs = 0;
      for (let i = 0; i < pending.length; i++) {
        for (let j = i + 1; j < pending.length; j++) {
          d += Math.hypot((pending[i]!.x as number) - (pending[j]!.x as number), (pending[i]!.y as number) - (pending[j]!.y as number));
          pairs++;
        }
      }
      return d / pairs;
    };
    let wins = 0;
    for (let seed = 0; seed < 20; seed++) if (spread(true, seed) > spread(false, seed)) wins++;
    expect(wins).toBeGreaterThanOrEqual(15);
  });

  it('a failed trial (null or NaN) is ignored by the model', () => {
    const a = new TpeSearcher({ space, seed: 2, mode: 'min' }, { n_startup_trials: 3 });
    const b = new TpeSearcher({ space, seed: 2, mode: 'min' }, { n_startup_trials: 3 });
    for (let i = 0; i < 4; i++) {
      const pa = a.suggest(`t${i}`);
      b.suggest(`t${i}`);
      a.observe(`t${i}`, i === 1 ? null : toy(pa));
      b.observe(`t${i}`, i === 1 ? Number.NaN : toy(pa));
    }
    expect(a.state().trials[1]).toMatchObject({ status: 'failed', value: null });
    expect(a.suggest('t4')).toEqual(b.suggest('t4'));
  });
});

describe('Parzen estimators', () => {
  it('erf matches tabulated values', () => {
    // Abramowitz & Stegun Table 7.1.
    expect(erf(0.5)).toBeCloseTo(0.5204998778, 6);
    expect(erf(1)).toBeCloseTo(0.8427007929, 6);
    expect(erf(-2)).toBeCloseTo(-0.995322265, 6);
  });

  it('default weights follow Optuna: ones below 25, then a ramp from 1/n over the oldest n-25', () => {
    expect(tpeWeights(3)).toEqual([1, 1, 1]);
    const w = tpeWeights(30);
    expect(w).toHaveLength(30);
    // numpy.linspace(1/30, 1, 5)
    const expected = [1 / 30, 1 / 30 + (29 / 30) * 0.25, 1 / 30 + (29 / 30) * 0.5, 1 / 30 + (29 / 30) * 0.75, 1];
    expected.forEach((e, i) => expect(w[i]).toBeCloseTo(e, 12));
    expect(w.slice(5)).toEqual(Array.from({ length: 25 }, () => 1));
  });

  it('the truncated mixture density integrates to 1 over [low, high], and sampling follows it', () => {
    const est = new NumericParzenEstimator([0.1, 0.15, 0.9, -0.95], [1, 1, 1, 0.5], -1, 1, 1);
    const mass = (a: number, b: number) => {
      // Midpoint rule, 20000 cells.
      let sum = 0;
      const n = 20_000;
      for (let i = 0; i < n; i++) sum += Math.exp(est.logPdf(a + ((b - a) * (i + 0.5)) / n)) * ((b - a) / n);
      return sum;
    };
    expect(mass(-1, 1)).toBeCloseTo(1, 4);
    const expected = mass(-0.075, 0.325);
    const rng = new SeededRandom(9);
    const n = 4000;
    let inside = 0;
    for (let i = 0; i < n; i++) {
      const x = est.sample(rng);
      expect(x).toBeGreaterThanOrEqual(-1);
      expect(x).toBeLessThanOrEqual(1);
      if (x > -0.075 && x < 0.325) inside++;
    }
    // Binomial(n, expected): within 4 standard deviations.
    expect(Math.abs(inside / n - expected)).toBeLessThan(4 * Math.sqrt((expected * (1 - expected)) / n));
  });

  it('categorical: P(c) is prior/K plus the weights observed at c, normalised', () => {
    const est = new CategoricalParzenEstimator([0, 0, 2], [1, 1, 1], 4, 1);
    // counts 0.25 + 2, 0.25, 0.25 + 1, 0.25: total 4.
    expect(Math.exp(est.logPdf(0))).toBeCloseTo(2.25 / 4, 12);
    expect(Math.exp(est.logPdf(1))).toBeCloseTo(0.25 / 4, 12);
    expect(Math.exp(est.logPdf(2))).toBeCloseTo(1.25 / 4, 12);
  });
});
