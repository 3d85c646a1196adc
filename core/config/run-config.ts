import { GRADIENT_COMPRESSIONS } from '../codec/gradient-compression.ts';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { CrowdtrainError } from '../protocol/errors.ts';
import { describeZodError } from '../protocol/messages.ts';
import { ModelSpecSchema } from '../models/model-spec.ts';
import { DatasetSpecSchema } from '../data/dataset-spec.ts';
import { OptimizerSpecSchema } from '../optim/optimizer-spec.ts';
import { LrScheduleSchema } from '../optim/lr-schedule.ts';
import { DurationSchema } from './duration.ts';

/** Training modes; only `ddp` is implemented by the engine today. */
export const TRAINING_MODES = ['ddp'] as const;

/**
 * A run's configuration as users write it (YAML or JSON, snake_case keys).
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
export const RunConfigSchema = z
  .object({
    name: z.string().min(1).max(128).default('run'),
    experiment: z.string().min(1).max(128).default('default'),
    description: z.string().max(4000).optional(),
    mode: z.enum(TRAINING_MODES).default('ddp'),
    seed: z.number().int().nonnegative().max(2 ** 31 - 1).default(42),
    model: ModelSpecSchema,
    dataset: DatasetSpecSchema,
    optimizer: OptimizerSpecSchema,
    lr_schedule: LrScheduleSchema.default({ type: 'constant' }),
    /** Samples per worker per update; the global batch is batch_size x active workers. */
    batch_size: z.number().int().positive().max(65_536),
    total_updates: z.number().int().positive().max(100_000_000),
    max_grad_norm: z.number().positive().nullable().default(null),
    /** Updates with a larger L2 norm than this are rejected as malicious or broken. */
    max_update_norm: z.number().positive().default(1e6),
    /** How workers send gradients: float32 (`none`), or 16-bit `fp16` / `bf16` (half the bytes, lossy). */
    gradient_compression: z.enum(GRADIENT_COMPRESSIONS).default('none'),
    eval_every: z.number().int().positive().default(100),
    checkpoint_every: z.number().int().positive().default(200),
    /** Wall-clock budget; the run checkpoints and stops gracefully before it runs out. */
    time_limit: DurationSchema.nullable().default(null),
    /** How long a step waits for a worker before reassigning its slice. */
    step_timeout: DurationSchema.default(60_000),
    /** The run (or a resumed run) does not start its first update before this many workers are ready; afterwards it goes on with any number. */
    min_workers: z.number().int().positive().max(10_000).default(1),
  })
  .strict();

/** A validated run configuration (durations in ms, defaults filled). */
export type RunConfig = z.output<typeof RunConfigSchema>;
/** A run configuration as written by users. */
export type RunConfigInput = z.input<typeof RunConfigSchema>;

/**
 * Validates a parsed config object. Throws CrowdtrainError('INVALID_CONFIG') naming each bad field
 * and, for enums, the allowed values.
 */
export function validateRunConfig(raw: unknown): RunConfig {
  const result = RunConfigSchema.safeParse(raw);
  if (!result.success) {
    throw new CrowdtrainError('INVALID_CONFIG', `invalid run config: ${describeZodError(result.error)}`);
  }
  return result.data;
}

/** Parses YAML or JSON text (JSON is YAML) into a validated config. */
export function parseRunConfig(text: string, source = 'config'): RunConfig {
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
  return validateRunConfig(raw);
}
