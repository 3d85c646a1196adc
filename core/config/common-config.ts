import { z } from 'zod';
import { GRADIENT_COMPRESSIONS } from '../codec/gradient-compression.ts';
import { ModelSpecSchema } from '../models/model-spec.ts';
import { DatasetSpecSchema } from '../data/dataset-spec.ts';
import { OptimizerSpecSchema } from '../optim/optimizer-spec.ts';
import { LrScheduleSchema } from '../optim/lr-schedule.ts';
import { DurationSchema } from './duration.ts';

/**
 * The keys every run config has, whatever its training mode: what to train (model, data), how
 * (optimizer, schedule, batch, updates) and the run's budgets. The full schema (`run-config.ts`)
 * adds `mode` and one options section per mode, both derived from the mode registry.
 */
export const CommonConfigShape = {
  name: z.string().min(1).max(128).default('run'),
  experiment: z.string().min(1).max(128).default('default'),
  description: z.string().max(4000).optional(),
  seed: z.number().int().nonnegative().max(2 ** 31 - 1).default(42),
  model: ModelSpecSchema,
  dataset: DatasetSpecSchema,
  optimizer: OptimizerSpecSchema,
  lr_schedule: LrScheduleSchema.default({ type: 'constant' }),
  /** Samples per worker per update; the global batch is batch_size x active workers. */
  batch_size: z.number().int().positive().max(65_536),
  total_updates: z.number().int().positive().max(100_000_000),
  max_grad_norm: z.number().positive().nullable().default(null),
  /**
   * Results with a larger L2 norm are rejected as malicious or broken. A number is an absolute
   * bound. `auto` (the default) is relative to the fleet: after a warm-up of `warmup` accepted
   * results (checked against the absolute `warmup_bound`), a result may be at most `multiple` x the
   * running median norm of the run's recently accepted results; `{multiple, warmup, warmup_bound}`
   * sets those (defaults 10, 3, 1e6).
   */
  max_update_norm: z
    .union([
      z.number().positive(),
      z.literal('auto'),
      z.strictObject({
        multiple: z.number().min(1).max(1e6).default(10),
        warmup: z.number().int().min(1).max(1_000_000).default(3),
        warmup_bound: z.number().positive().default(1e6),
      }),
    ])
    .default('auto'),
  /** How workers send their results: float32 (`none`), or 16-bit `fp16` / `bf16` (half the bytes, lossy). */
  gradient_compression: z.enum(GRADIENT_COMPRESSIONS).default('none'),
  eval_every: z.number().int().positive().default(100),
  checkpoint_every: z.number().int().positive().default(200),
  /**
   * Retention: after each checkpoint, only the newest this many checkpoint files (and rows) are
   * kept, plus the best one and any a model version was registered from; null or 0 keeps all.
   */
  keep_checkpoints: z.number().int().nonnegative().max(1_000_000).nullable().default(5),
  /** Wall-clock budget; the run checkpoints and stops gracefully before it runs out. */
  time_limit: DurationSchema.nullable().default(null),
  /** How long a step waits for a worker before reassigning its slice. */
  step_timeout: DurationSchema.default(60_000),
  /** The run (or a resumed run) does not start its first update before this many workers are ready; afterwards it goes on with any number. */
  min_workers: z.number().int().positive().max(10_000).default(1),
  /**
   * Placement on a shared fleet: at most this many workers serve the run at once (null: no cap).
   * With `min_workers` this is the run's `workers: {min, max}`; the rest of the fleet serves other runs.
   */
  max_workers: z.number().int().positive().max(10_000).nullable().default(null),
  /**
   * Placement order on a shared fleet: an idle or newly joined worker goes to the highest-priority
   * active run below its `max_workers`; a run below `min_workers` takes workers from lower-priority runs.
   */
  priority: z.number().int().min(-1000).max(1000).default(0),
  /** Backends a worker must run to serve this run (e.g. `[webgpu, wasm]`); null: any. */
  worker_backends: z.array(z.string().min(1).max(32)).min(1).max(16).nullable().default(null),
  /**
   * The effective batch per update, whatever the number of workers (PyTorch's / Hivemind's
   * "global batch"); null: `batch_size` x active workers.
   */
  global_batch_size: z.number().int().positive().max(1_048_576).nullable().default(null),
  /**
   * How a global batch is split: `throughput` sizes each worker's slice by its measured samples/s
   * (so a slow tab does not pace a GPU server; a worker far slower than the rest becomes a spare),
   * `equal` gives everyone the same share. Either way the update equals single-process training.
   */
  slice_balance: z.enum(['throughput', 'equal']).default('throughput'),
  /** The run fails after this many consecutive rounds in which no result was accepted (e.g. every update NORM_TOO_LARGE). */
  max_failed_rounds: z.number().int().positive().max(1_000_000).default(25),
};

/** Schema of the mode-independent keys (no `mode`, no mode sections). */
export const CommonConfigSchema = z.object(CommonConfigShape);

/** A validated run config as every mode sees it: the common keys (defaults filled) and the mode's name. */
export type RunConfig = z.output<typeof CommonConfigSchema> & {
  /** The training mode: a key of the mode registry (`core/run/modes.ts`). */
  mode: string;
};
