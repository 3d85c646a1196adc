import { describe, expect, it } from 'vitest';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';
import { assertPathInSchema, setPaths, type SchemaLike } from '../../../core/sweep/config-path.ts';
import { RunConfigSchema } from '../../../core/config/run-config.ts';
import { applySuggestion, createScheduler, createSearcher, parseSweepConfig, trialRunConfig, validateSweepConfig } from '../../../core/sweep/sweep-config.ts';

const base = {
  model: { type: 'mlp', hidden: [16] },
  dataset: { name: 'synthetic' },
  optimizer: { name: 'adam', lr: 0.001 },
  batch_size: 16,
  total_updates: 90,
};

const sweep = {
  name: 'toy',
  base,
  space: {
    'optimizer.lr': { type: 'loguniform', low: 1e-4, high: 1e-1 },
    'model.hidden': { type: 'choice', values: [[16], [32, 16]] },
  },
  metric: 'eval_loss',
  mode: 'min',
  trials: 8,
};

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CrowdtrainError);
    expect((err as CrowdtrainError).code).toBe('INVALID_CONFIG');
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('sweep config', () => {
  it('parses YAML with shorthands and fills defaults', () => {
    const cfg = parseSweepConfig(`
name: mnist-lr
base: { model: { type: mlp }, dataset: { name: synthetic }, optimizer: { name: sgd, lr: 0.1 }, batch_size: 8, total_updates: 300 }
space:
  optimizer.lr: { type: loguniform, low: 1.0e-4, high: 1.0e-1 }
metric: eval_loss
mode: min
trials: 16
searcher: tpe
scheduler: { type: asha, grace_period: 10, reduction_factor: 3 }
`);
    expect(cfg).toMatchObject({ name: 'mnist-lr', trials: 16, max_concurrent: 1, seed: 0, maxSteps: 300 });
    expect(cfg.searcher).toEqual({ type: 'tpe', options: { n_startup_trials: 10, n_ei_candidates: 24, gamma: 0.1, prior_weight: 1, constant_liar: true } });
    expect(cfg.scheduler).toEqual({ type: 'asha', options: { grace_period: 10, reduction_factor: 3 } });
    expect(validateSweepConfig(sweep).searcher.type).toBe('random');
    expect(validateSweepConfig(sweep).scheduler.type).toBe('fifo');
  });

  it('names the bad field', () => {
    expect(messageOf(() => validateSweepConfig({ ...sweep, mode: 'maximise' }))).toMatch(/mode.*min.*max/);
    expect(messageOf(() => validateSweepConfig({ ...sweep, trials: 0 }))).toMatch(/trials/);
    expect(messageOf(() => validateSweepConfig({ ...sweep, metric: '' }))).toMatch(/metric/);
    expect(messageOf(() => validateSweepConfig({ ...sweep, sapce: {} }))).toMatch(/sapce/);
    expect(messageOf(() => validateSweepConfig({ ...sweep, space: {} }))).toMatch(/space: the space needs at least one parameter/);
    expect(messageOf(() => validateSweepConfig({ ...sweep, space: { 'optimizer.lr': { type: 'uniform', low: 2, high: 1 } } }))).toMatch(/space\.optimizer\.lr\.high/);
    expect(messageOf(() => validateSweepConfig({ ...sweep, searcher: 'bayes' }))).toMatch(/searcher\.type.*grid.*random.*tpe/);
    expect(messageOf(() => validateSweepConfig({ ...sweep, searcher: { type: 'tpe', n_ei_candidates: 0 } }))).toMatch(/searcher\.n_ei_candidates/);
    expect(messageOf(() => validateSweepConfig({ ...sweep, searcher: { type: 'tpe', n_ei_candidate: 5 } }))).toMatch(/searcher.*n_ei_candidate/);
    expect(messageOf(() => validateSweepConfig({ ...sweep, scheduler: 'hyperband' }))).toMatch(/scheduler\.type.*fifo.*asha.*median.*pbt/);
    expect(messageOf(() => validateSweepConfig({ ...sweep, scheduler: { type: 'asha', reduction_factor: 1 } }))).toMatch(/scheduler\.reduction_factor/);
    expect(messageOf(() => validateSweepConfig({ ...sweep, scheduler: { type: 'asha', max_t: 500 } }))).toMatch(/scheduler\.max_t \(500\) exceeds the trials' total_updates \(90\)/);
    expect(messageOf(() => validateSweepConfig({ ...sweep, scheduler: { type: 'pbt' } }))).toMatch(/scheduler\.perturbation_interval/);
    expect(messageOf(() => validateSweepConfig({ ...sweep, scheduler: { type: 'pbt', perturbation_interval: 10, mutations: ['optimizer.beta1'] } }))).toMatch(/scheduler\.mutations: optimizer\.beta1 is not a parameter of the space/);
    expect(messageOf(() => validateSweepConfig({ ...sweep, trials: undefined }))).toMatch(/trials: required for the random searcher/);
  });

  it('refuses a space path that does not exist in the run config schema, naming the segment and the keys', () => {
    const msg = messageOf(() => validateSweepConfig({ ...sweep, space: { 'optimizer.lrr': { type: 'uniform', low: 0.1, high: 1 } } }));
    expect(msg).toMatch(/space\.optimizer\.lrr: path "optimizer\.lrr" does not exist in the run config schema: optimizer has no key "lrr"/);
    expect(msg).toMatch(/its keys are name, lr, momentum/);
    expect(messageOf(() => validateSweepConfig({ ...sweep, space: { 'batch_size.x': { type: 'int', low: 1, high: 2 } } }))).toMatch(/batch_size is not an object/);
    expect(messageOf(() => validateSweepConfig({ ...sweep, space: { 'optimizer..lr': { type: 'int', low: 1, high: 2 } } }))).toMatch(/empty segment/);
  });

  it('walks unions, defaults, preprocessed mode sections and array indices of the run config schema', () => {
    const schema = RunConfigSchema as unknown as SchemaLike;
    for (const path of ['optimizer.lr', 'optimizer.momentum', 'optimizer.beta2', 'model.hidden', 'model.conv.0.filters', 'lr_schedule.type', 'seed', 'ddp', 'max_update_norm.multiple']) {
      expect(() => assertPathInSchema(schema, path, 'space')).not.toThrow();
    }
    expect(() => assertPathInSchema(schema, 'model.conv.first.filters', 'space')).toThrow(/conv has no key "first"/);
  });

  it('validates base after substitution: a value the run config refuses is named with its parameter', () => {
    // momentum exists in the schema (sgd), but base uses adam: the strict adam schema refuses it.
    const msg = messageOf(() => validateSweepConfig({ ...sweep, space: { 'optimizer.momentum': { type: 'uniform', low: 0, high: 0.9 } } }));
    expect(msg).toMatch(/optimizer\.momentum=0/);
    expect(msg).toMatch(/invalid run config: optimizer/);
    // The second value of a choice is checked too.
    expect(messageOf(() => validateSweepConfig({ ...sweep, space: { 'model.hidden': { type: 'choice', values: [[16], 'wide'] } } }))).toMatch(/model\.hidden="wide".*model\.hidden/);
    // A base missing what the space fills is fine; a base missing what it does not fill is not.
    const { optimizer: _o, ...noOptimizer } = base;
    expect(() => validateSweepConfig({ ...sweep, base: { ...noOptimizer, optimizer: { name: 'adam' } } })).not.toThrow();
    expect(messageOf(() => validateSweepConfig({ ...sweep, base: noOptimizer }))).toMatch(/optimizer/);
  });

  it('grid: trials defaults to the grid size, more is refused, continuous parameters are named', () => {
    const grid = { ...sweep, trials: undefined, searcher: 'grid', space: { 'optimizer.lr': { type: 'grid', values: [0.1, 0.01, 0.001] } } };
    expect(validateSweepConfig(grid).trials).toBe(3);
    expect(messageOf(() => validateSweepConfig({ ...grid, trials: 4 }))).toMatch(/trials \(4\) exceeds the grid's 3 points/);
    expect(messageOf(() => validateSweepConfig({ ...sweep, searcher: 'grid' }))).toMatch(/space\.optimizer\.lr is loguniform/);
  });

  it('maxSteps is the largest total_updates a trial can get', () => {
    expect(validateSweepConfig({ ...sweep, space: { total_updates: { type: 'int', low: 10, high: 120 } } }).maxSteps).toBe(120);
  });

  it('applies a suggestion by path without touching the base, and names trials', () => {
    const cfg = validateSweepConfig(sweep);
    const run = trialRunConfig(cfg, { 'optimizer.lr': 0.01, 'model.hidden': [32, 16] }, 3);
    expect(run.optimizer).toMatchObject({ name: 'adam', lr: 0.01 });
    expect(run.model).toMatchObject({ type: 'mlp', hidden: [32, 16] });
    expect(run.name).toBe('toy-t3');
    expect(base.optimizer.lr).toBe(0.001);
    expect(setPaths({ a: [1, 2] }, { 'a.1': 5, 'b.c': 'x' })).toEqual({ a: [1, 5], b: { c: 'x' } });
    expect(() => applySuggestion(base, { batch_size: -1 })).toThrow(/batch_size=-1.*batch_size/);
  });

  it('creates the configured searcher and scheduler from the registries', () => {
    const cfg = validateSweepConfig({ ...sweep, searcher: 'tpe', scheduler: { type: 'asha', grace_period: 10, reduction_factor: 3 } });
    expect(createSearcher(cfg).name).toBe('tpe');
    const scheduler = createScheduler(cfg);
    expect(scheduler.name).toBe('asha');
    expect(scheduler.state()).toMatchObject({ rungs: [{ milestone: 90 }, { milestone: 30 }, { milestone: 10 }] });
  });
});
