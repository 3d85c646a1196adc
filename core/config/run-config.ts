import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { CrowdtrainError } from '../protocol/errors.ts';
import { describeZodError } from '../protocol/messages.ts';
import { DEFAULT_MODE, EXTERNAL_RUN_MODE, TRAINING_MODES } from '../run/modes.ts';
import type { ModeRegistry } from '../run/training-mode.ts';
import { CommonConfigShape, type RunConfig } from './common-config.ts';

export type { RunConfig } from './common-config.ts';

/**
 * The schema of a run config for a registry of modes: the common keys, `mode` (an enum of the
 * registry's names, `ddp` by default) and one optional options section per mode, named after it;
 * a section of a mode other than the chosen one is an error.
 */
export function runConfigSchema(registry: ModeRegistry = TRAINING_MODES) {
  const names = Object.keys(registry);
  if (names.length === 0) throw new CrowdtrainError('INTERNAL', 'the mode registry is empty');
  for (const [key, mode] of Object.entries(registry)) {
    if (key !== mode.name) throw new CrowdtrainError('INTERNAL', `mode registry key "${key}" holds mode "${mode.name}"; they must be equal`);
    if (key in CommonConfigShape || key === 'mode' || key === EXTERNAL_RUN_MODE) {
      throw new CrowdtrainError('INTERNAL', `a mode cannot be named "${key}": that name is taken by a config key or reserved`);
    }
  }
  // An empty section (`ddp:` in YAML) means the defaults.
  const sections = Object.fromEntries(Object.values(registry).map((m) => [m.name, z.preprocess((v) => v ?? undefined, m.optionsSchema.optional())]));
  return z
    .object({ ...CommonConfigShape, mode: z.enum(names as [string, ...string[]]).default(names.includes(DEFAULT_MODE) ? DEFAULT_MODE : names[0]!), ...sections })
    .strict()
    .superRefine((cfg, ctx) => {
      if (cfg.max_workers !== null && cfg.max_workers < cfg.min_workers) {
        ctx.addIssue({ code: 'custom', path: ['max_workers'], message: `max_workers (${cfg.max_workers}) is below min_workers (${cfg.min_workers})` });
      }
      for (const name of names) {
        if (name !== cfg.mode && (cfg as Record<string, unknown>)[name] !== undefined) {
          ctx.addIssue({ code: 'custom', path: [name], message: `options of mode ${name} given, but mode is ${cfg.mode}` });
        }
      }
    });
}

/**
 * A run's configuration as users write it (YAML or JSON, snake_case keys), for the built-in modes.
 * @example
 * parseRunConfig(`
 * name: mnist-cnn
 * model: { type: cnn, conv: [{ filters: 8, kernel_size: 5 }] }
 * dataset: { name: mnist }
 * optimizer: { name: adam, lr: 0.001 }
 * batch_size: 32
 * total_updates: 500
 * `)
 */
export const RunConfigSchema = runConfigSchema();

/** A run configuration as written by users. */
export type RunConfigInput = z.input<typeof RunConfigSchema>;

const schemas = new WeakMap<ModeRegistry, ReturnType<typeof runConfigSchema>>([[TRAINING_MODES, RunConfigSchema]]);

/**
 * Validates a parsed config object against the modes of `registry` (the built-in ones by default).
 * Throws CrowdtrainError('INVALID_CONFIG') naming each bad field and, for enums, the allowed values.
 */
export function validateRunConfig(raw: unknown, registry: ModeRegistry = TRAINING_MODES): RunConfig {
  let schema = schemas.get(registry);
  if (!schema) {
    schema = runConfigSchema(registry);
    schemas.set(registry, schema);
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    throw new CrowdtrainError('INVALID_CONFIG', `invalid run config: ${describeZodError(result.error)}`);
  }
  return result.data;
}

/**
 * A validated config as it is stored (the run row's `config`): the same values, with the duration
 * fields (milliseconds after validation) written as `"<n>ms"`, so validating the stored JSON again
 * gives back exactly `config` (a plain number would be read as seconds).
 * @example validateRunConfig(JSON.parse(JSON.stringify(storedRunConfig(c)))) // deep-equals c
 */
export function storedRunConfig(config: RunConfig): Record<string, unknown> {
  return {
    ...config,
    step_timeout: `${config.step_timeout}ms`,
    time_limit: config.time_limit === null ? null : `${config.time_limit}ms`,
  };
}

/** Parses YAML or JSON text (JSON is YAML) into a validated config. */
export function parseRunConfig(text: string, source = 'config', registry: ModeRegistry = TRAINING_MODES): RunConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new CrowdtrainError('INVALID_CONFIG', `${source} is not valid YAML/JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new CrowdtrainError('INVALID_CONFIG', `${source} must be a mapping of keys to values`);
  }
  return validateRunConfig(raw, registry);
}
