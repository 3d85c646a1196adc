import { z } from 'zod';

/**
 * The `sharded:` section of a run config (ZeRO stage 1: optimizer state sharded). The flat
 * parameter vector is split into contiguous ranges (core/shard/shard-plan.ts); each range's master
 * values and optimizer state live on a shard owner, with `replicas` copies on others.
 * @example ShardedOptionsSchema.parse({ min_owners: 2, replicas: 1 })
 */
export const ShardedOptionsSchema = z.strictObject({
  /** Owners that must be connected before the first update (the run waits up to `owner_wait` for them). */
  min_owners: z.int().min(1).max(64).default(1),
  /** Other owners holding a copy of each range (its params and optimizer state), so an owner can leave without a rewind. */
  replicas: z.int().min(0).max(8).default(0),
  /** Cut ranges only at tensor boundaries (a layer's weights stay on one owner). */
  layer_aligned: z.boolean().default(false),
  /**
   * Seconds the first update waits for `min_owners` owners before the run fails. A number, not a
   * duration string: a mode's section is parsed again when the run is built (it must be idempotent).
   */
  owner_wait: z.number().positive().max(86_400).default(60),
});

/** The parsed `sharded:` section, defaults filled. */
export type ShardedOptions = z.infer<typeof ShardedOptionsSchema>;
