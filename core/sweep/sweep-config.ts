import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { RunConfigSchema, validateRunConfig, type RunConfig } from '../config/run-config.ts';
import { CrowdtrainError } from '../protocol/errors.ts';
import { describeZodError } from '../protocol/messages.ts';
import { assertPathInSchema, setPaths, type SchemaLike } from './config-path.ts';
import { gridSize, isCategorical, legalNumber, ParamSpecSchema, type JsonValue, type ParamSpec, type SearchSpace, type Suggestion } from './search-space.ts';
import { SCHEDULER_NAMES, SCHEDULERS, type SchedulerName, type TrialScheduler } from './schedulers/index.ts';
import { SEARCHER_NAMES, SEARCHERS, type Searcher, type SearcherName } from './searchers/index.ts';

/** `searcher: tpe` is short for `searcher: { type: tpe }` (the same for `scheduler`). */
const typeShorthand = (v: unknown) => (typeof v === 'string' ? { type: v } : v);

const SearcherFieldSchema = z.preprocess(typeShorthand, z.looseObject({ type: z.enum(SEARCHER_NAMES) })).default({ type: 'random' });
const SchedulerFieldSchema = z.preprocess(typeShorthand, z.looseObject({ type: z.enum(SCHEDULER_NAMES) })).default({ type: 'fifo' });

/**
 * The shape of a sweep config as users write it (YAML or JSON, snake_case keys). `base` is checked
 * as a run config only after the space's values are substituted into it ({@link validateSweepConfig}).
 * @example
 * parseSweepConfig(`
 * name: mnist-lr
 * base: { model: { type: mlp }, dataset: { name: mnist }, optimizer: { name: adam, lr: 0.001 }, batch_size: 32, total_updates: 300 }
 * space:
 *   optimizer.lr: { type: loguniform, low: 1.0e-4, high: 1.0e-1 }
 *   model.hidden: { type: choice, values: [[64], [128, 64]] }
 * metric: eval_loss
 * mode: min
 * trials: 16
 * max_concurrent: 2
 * searcher: tpe
 * scheduler: { type: asha, grace_period: 20, reduction_factor: 3 }
 * `)
 */
export const SweepConfigShapeSchema = z.strictObject({
  name: z.string().min(1).max(100),
  description: z.string().max(4000).optional(),
  /** A run config, possibly without the keys the space fills in. */
  base: z.record(z.string(), z.unknown()),
  /** Parameters by dotted run-config path, e.g. `optimizer.lr`, `model.hidden`, `model.conv.0.filters`. */
  space: z
    .record(z.string().min(1).max(200), ParamSpecSchema)
    .refine((s) => Object.keys(s).length > 0, { message: 'the space needs at least one parameter' })
    .refine((s) => Object.keys(s).length <= 64, { message: 'the space has more than 64 parameters' }),
  /** The metric key the sweep optimises (e.g. `eval_loss`, `eval_accuracy`, `train_loss`). */
  metric: z.string().min(1).max(128),
  mode: z.enum(['min', 'max']),
  /** How many trials to run (default for the grid searcher: every grid point; required otherwise). */
  trials: z.number().int().positive().max(10_000).optional(),
  /** At most this many trials train at once (the fleet's size may allow fewer). */
  max_concurrent: z.number().int().positive().max(1000).default(1),
  /** Seeds the searcher and the scheduler: the same seed and results give the same suggestions. */
  seed: z.number().int().nonnegative().max(2 ** 31 - 1).default(0),
  searcher: SearcherFieldSchema,
  scheduler: SchedulerFieldSchema,
});

/** A sweep config as written by users. */
export type SweepConfigInput = z.input<typeof SweepConfigShapeSchema>;

/** A validated sweep config: every field checked, defaults filled, options parsed by their searcher and scheduler. */
export interface SweepConfig {
  name: string;
  description?: string;
  base: Record<string, unknown>;
  space: SearchSpace;
  metric: string;
  mode: 'min' | 'max';
  trials: number;
  max_concurrent: number;
  seed: number;
  searcher: { type: SearcherName; options: Record<string, unknown> };
  scheduler: { type: SchedulerName; options: Record<string, unknown> };
  /** The most updates any trial trains (the base's total_updates, or the space's largest). */
  maxSteps: number;
}

function invalid(message: string): CrowdtrainError {
  return new CrowdtrainError('INVALID_CONFIG', `invalid sweep config: ${message}`);
}

/** Parses `options` (the field minus `type`) with a registry entry's schema; errors name `field.key`. */
function parseOptions(field: 'searcher' | 'scheduler', raw: Record<string, unknown>, schema: z.ZodObject): Record<string, unknown> {
  const { type: _type, ...options } = raw;
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    throw invalid(parsed.error.issues.map((i) => `${[field, ...i.path].join('.')}: ${i.message}`).join('; '));
  }
  return parsed.data;
}

/** The values of a parameter a config check substitutes: every listed value (up to 64), or the two bounds. */
function probeValues(p: ParamSpec): JsonValue[] {
  if (isCategorical(p)) return p.values.slice(0, 64);
  return [legalNumber(p, p.low), legalNumber(p, p.high)];
}

/**
 * The run config of one trial: `base` with each suggested value set at its path, validated as a run
 * config. Throws CrowdtrainError('INVALID_CONFIG') naming the substituted values and the bad field.
 */
export function applySuggestion(base: Readonly<Record<string, unknown>>, suggestion: Suggestion): RunConfig {
  try {
    return validateRunConfig(setPaths(base, suggestion));
  } catch (err) {
    const values = Object.entries(suggestion)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(', ');
    throw new CrowdtrainError('INVALID_CONFIG', `base with ${values}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Validates a parsed sweep config: its fields, that every space path exists in the run config
 * schema, the searcher's and scheduler's options, and `base` as a run config with every value of
 * each parameter (each bound of a numeric one) substituted. Throws CrowdtrainError('INVALID_CONFIG')
 * naming the field.
 */
export function validateSweepConfig(raw: unknown): SweepConfig {
  const parsed = SweepConfigShapeSchema.safeParse(raw);
  if (!parsed.success) throw invalid(describeZodError(parsed.error));
  const cfg = parsed.data;
  for (const path of Object.keys(cfg.space)) {
    try {
      assertPathInSchema(RunConfigSchema as unknown as SchemaLike, path, `space.${path}`);
    } catch (err) {
      throw invalid((err as Error).message);
    }
  }
  const searcherType = cfg.searcher.type;
  const schedulerType = cfg.scheduler.type;
  const searcherOptions = parseOptions('searcher', cfg.searcher, SEARCHERS[searcherType].optionsSchema);
  const schedulerOptions = parseOptions('scheduler', cfg.scheduler, SCHEDULERS[schedulerType].optionsSchema);

  // base with the first value of every parameter, then each parameter's other values in turn.
  const first = Object.fromEntries(Object.entries(cfg.space).map(([path, p]) => [path, probeValues(p)[0]!]));
  const firstConfig = applySuggestion(cfg.base, first);
  let maxSteps = firstConfig.total_updates;
  for (const [path, p] of Object.entries(cfg.space)) {
    for (const value of probeValues(p).slice(1)) {
      const run = applySuggestion(cfg.base, { ...first, [path]: value });
      maxSteps = Math.max(maxSteps, run.total_updates);
    }
  }

  let trials = cfg.trials;
  if (searcherType === 'grid') {
    let size: number;
    try {
      size = gridSize(cfg.space);
    } catch (err) {
      throw invalid((err as Error).message);
    }
    if (trials !== undefined && trials > size) throw invalid(`trials (${trials}) exceeds the grid's ${size} points`);
    trials ??= size;
  }
  if (trials === undefined) throw invalid(`trials: required for the ${searcherType} searcher`);

  if (schedulerType === 'asha') {
    const maxT = schedulerOptions.max_t as number | undefined;
    const grace = schedulerOptions.grace_period as number;
    if (maxT !== undefined && maxT > maxSteps) throw invalid(`scheduler.max_t (${maxT}) exceeds the trials' total_updates (${maxSteps}): no trial would reach it`);
    if (grace > (maxT ?? maxSteps)) throw invalid(`scheduler.grace_period (${grace}) exceeds scheduler.max_t (${maxT ?? maxSteps})`);
  }
  if (schedulerType === 'pbt') {
    const interval = schedulerOptions.perturbation_interval as number;
    if (interval >= maxSteps) throw invalid(`scheduler.perturbation_interval (${interval}) is not below the trials' total_updates (${maxSteps}): no trial would be perturbed`);
    for (const path of (schedulerOptions.mutations as string[] | undefined) ?? []) {
      if (!Object.hasOwn(cfg.space, path)) throw invalid(`scheduler.mutations: ${path} is not a parameter of the space (its parameters: ${Object.keys(cfg.space).join(', ')})`);
    }
  }

  return {
    name: cfg.name,
    ...(cfg.description !== undefined ? { description: cfg.description } : {}),
    base: cfg.base,
    space: cfg.space,
    metric: cfg.metric,
    mode: cfg.mode,
    trials,
    max_concurrent: cfg.max_concurrent,
    seed: cfg.seed,
    searcher: { type: searcherType, options: searcherOptions },
    scheduler: { type: schedulerType, options: schedulerOptions },
    maxSteps,
  };
}

/** Parses YAML or JSON text (JSON is YAML) into a validated sweep config. */
export function parseSweepConfig(text: string, source = 'sweep config'): SweepConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new CrowdtrainError('INVALID_CONFIG', `${source} is not valid YAML/JSON: ${(err as Error).message}`, { cause: err });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new CrowdtrainError('INVALID_CONFIG', `${source} must be a mapping of keys to values`);
  }
  return validateSweepConfig(raw);
}

/** The sweep's searcher, fresh (load a saved state into it to resume). */
export function createSearcher(sweep: SweepConfig): Searcher {
  return SEARCHERS[sweep.searcher.type].create({ space: sweep.space, seed: sweep.seed, mode: sweep.mode }, sweep.searcher.options);
}

/** The sweep's trial scheduler, fresh (load a saved state into it to resume). */
export function createScheduler(sweep: SweepConfig): TrialScheduler {
  return SCHEDULERS[sweep.scheduler.type].create({ space: sweep.space, seed: sweep.seed, mode: sweep.mode, maxSteps: sweep.maxSteps }, sweep.scheduler.options);
}

/**
 * The run config of trial number `index` (0-based): the base with the suggestion applied, named
 * `<sweep>-t<index>` unless the space sets `name`.
 */
export function trialRunConfig(sweep: SweepConfig, suggestion: Suggestion, index: number): RunConfig {
  const named = 'name' in suggestion ? suggestion : { ...suggestion, name: `${sweep.name}-t${index}` };
  return applySuggestion(sweep.base, named);
}
