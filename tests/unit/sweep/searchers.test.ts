import { describe, expect, it } from 'vitest';
import { SEARCHERS, SEARCHER_NAMES, type Searcher } from '../../../core/sweep/searchers/index.ts';
import { isLegalValue, ParamSpecSchema, type SearchSpace, type Suggestion } from '../../../core/sweep/search-space.ts';

const continuous: SearchSpace = {
  'optimizer.lr': ParamSpecSchema.parse({ type: 'loguniform', low: 1e-4, high: 1e-1 }),
  'model.hidden.0': ParamSpecSchema.parse({ type: 'int', low: 8, high: 256 }),
  batch_size: ParamSpecSchema.parse({ type: 'qloguniform', low: 8, high: 512, q: 8 }),
  'model.activation': ParamSpecSchema.parse({ type: 'choice', values: ['relu', 'tanh', 'gelu'] }),
};
const discrete: SearchSpace = {
  'optimizer.lr': ParamSpecSchema.parse({ type: 'grid', values: [0.1, 0.03, 0.01, 0.003] }),
  'model.activation': ParamSpecSchema.parse({ type: 'choice', values: ['relu', 'tanh', 'gelu'] }),
};

/** A deterministic objective of the params (any number will do; it only has to depend on them). */
function objective(p: Suggestion): number {
  const lr = typeof p['optimizer.lr'] === 'number' ? p['optimizer.lr'] : 0.01;
  return (Math.log10(lr) + 2) ** 2 + (p['model.activation'] === 'tanh' ? 0 : 0.5) + (typeof p['model.hidden.0'] === 'number' ? Math.abs(p['model.hidden.0'] - 64) / 64 : 0);
}

function make(name: keyof typeof SEARCHERS, seed: number): Searcher {
  const space = name === 'grid' ? discrete : continuous;
  const entry = SEARCHERS[name];
  return entry.create({ space, seed, mode: 'min' }, entry.optionsSchema.parse({ ...(name === 'tpe' ? { n_startup_trials: 4 } : {}) }));
}

/**
 * Drives a searcher as a sweep with 2 trials in flight does: suggest two, then alternately observe
 * the oldest pending trial and suggest the next; `crashAt`: after that many suggestions the searcher
 * is replaced by a fresh one loaded from `state()` passed through JSON (what a restart reads back).
 */
function drive(name: keyof typeof SEARCHERS, seed: number, total: number, crashAt?: number): Suggestion[] {
  let s = make(name, seed);
  const out: Suggestion[] = [];
  const pending: { id: string; params: Suggestion }[] = [];
  for (let i = 0; i < total; i++) {
    if (i === crashAt) {
      const saved = JSON.parse(JSON.stringify(s.state())) as unknown;
      s = make(name, seed);
      s.load(saved);
    }
    if (pending.length === 2) {
      const done = pending.shift()!;
      s.observe(done.id, objective(done.params));
    }
    const params = s.suggest(`trial-${i}`);
    if (!params) break;
    out.push(params);
    pending.push({ id: `trial-${i}`, params });
  }
  return out;
}

describe.each(SEARCHER_NAMES)('%s searcher', (name) => {
  it('gives the same suggestions for the same seed and history', () => {
    expect(drive(name, 7, 12)).toEqual(drive(name, 7, 12));
  });

  it('after a crash, load(state()) gives exactly the suggestions it would have given', () => {
    const straight = drive(name, 11, 12);
    for (const crashAt of [1, 5, 9]) expect(drive(name, 11, 12, crashAt)).toEqual(straight);
  });

  it('every suggestion is a legal value of every parameter', () => {
    const space = name === 'grid' ? discrete : continuous;
    for (const p of drive(name, 3, 12)) {
      expect(Object.keys(p)).toEqual(Object.keys(space));
      for (const [path, spec] of Object.entries(space)) expect(isLegalValue(spec, p[path]!), `${path}=${JSON.stringify(p[path])}`).toBe(true);
    }
  });

  it('refuses a state of another searcher, a corrupt state and an unknown trial, naming the problem', () => {
    const s = make(name, 1);
    s.suggest('a');
    const other = SEARCHER_NAMES.find((n) => n !== name)!;
    expect(() => s.load({ ...s.state(), searcher: other })).toThrow(new RegExp(`saved by the ${other} searcher, not ${name}`));
    expect(() => s.load({ ...s.state(), suggested: -1 })).toThrow(/suggested/);
    expect(() => s.load({ searcher: name, suggested: 2, trials: [{ id: 'a', params: {}, status: 'finished', value: null }] })).toThrow(/trials\.0\.status/);
    expect(() => s.observe('nope', 1)).toThrow(/trial nope was never suggested/);
    expect(() => s.suggest('a')).toThrow(/trial a was already suggested/);
  });
});

describe('random and grid specifics', () => {
  it('random: different seeds give different suggestions', () => {
    expect(drive('random', 1, 5)).not.toEqual(drive('random', 2, 5));
  });

  it('grid: every point once, in product order, then null', () => {
    const s = make('grid', 0);
    const seen: string[] = [];
    for (let i = 0; i < 12; i++) seen.push(JSON.stringify(s.suggest(`g${i}`)));
    expect(new Set(seen).size).toBe(12);
    expect(JSON.parse(seen[0]!)).toEqual({ 'optimizer.lr': 0.1, 'model.activation': 'relu' });
    expect(JSON.parse(seen[11]!)).toEqual({ 'optimizer.lr': 0.003, 'model.activation': 'gelu' });
    expect(s.suggest('g12')).toBeNull();
  });
});
