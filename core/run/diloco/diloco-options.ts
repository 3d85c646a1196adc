import { z } from 'zod';
import { AggregatorSpecSchema } from '../../aggregate/robust/index.ts';
import { OptimizerSpecSchema } from '../../optim/optimizer-spec.ts';

/**
 * The `diloco:` section of a run config (Douillard et al. 2023, "DiLoCo"). Defaults are the
 * paper's outer optimizer: Nesterov SGD, lr 0.7, momentum 0.9. The inner optimizer is the run's
 * `optimizer` unless `inner_optimizer` is given (the paper uses AdamW).
 * @example DilocoOptionsSchema.parse({ inner_steps: 50 }) // outer_lr 0.7, outer_momentum 0.9, nesterov true
 */
export const DilocoOptionsSchema = z.strictObject({
  /** H: inner steps each worker takes per round (on `batch_size` samples each). */
  inner_steps: z.int().min(1).max(100_000).default(50),
  /** Learning rate of the outer SGD on the averaged delta. */
  outer_lr: z.number().positive().finite().default(0.7),
  /** Momentum of the outer SGD (0: plain SGD). */
  outer_momentum: z.number().min(0).lt(1).default(0.9),
  /** Nesterov momentum for the outer SGD (only meaningful with outer_momentum > 0). */
  nesterov: z.boolean().default(true),
  /** The inner optimizer; absent: the run's `optimizer`. */
  inner_optimizer: OptimizerSpecSchema.optional(),
  /**
   * How the workers' deltas are combined into the outer gradient: a spec of
   * core/aggregate/robust's registry (e.g. `{ name: 'trimmed_mean', beta: 0.2 }`). Absent: the
   * sample-weighted mean (kept optional so an absent section parses as before).
   */
  aggregator: AggregatorSpecSchema.optional(),
});

/** The parsed `diloco:` section, defaults filled. */
export type DilocoOptions = z.infer<typeof DilocoOptionsSchema>;
