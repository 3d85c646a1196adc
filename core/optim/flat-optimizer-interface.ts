import type { OptimizerSpec } from './optimizer-spec.ts';
import type { OptimizerState } from './optimizer-state.ts';
import type { UpdateRange } from './update-range.ts';

/**
 * An optimizer over a flat Float32Array parameter vector of fixed `size`, updating in place.
 *
 * Step-counter semantics: one *global update* may be applied as several `step()` calls over
 * disjoint ranges (sharded owners, chunked application). Every `step()` uses the bias correction
 * of update number `updates + 1`.
 * - `step(params, grads, lr)` without a range updates the whole vector and ends the update
 *   itself (calls `advance()`).
 * - `step(params, grads, lr, range)` updates only `[start, end)` and does NOT end the update:
 *   call `advance()` once after the last range of the update.
 */
export interface FlatOptimizer {
  /** The spec this optimizer was built from (defaults filled). */
  readonly spec: OptimizerSpec;
  /** Length of the optimized vector (and of every slot). */
  readonly size: number;
  /** Number of completed global updates (the `step` of {@link OptimizerState}). */
  readonly updates: number;
  /** Updates params[start,end) in place from grads[start,end) with learning rate lr (whole vector + advance() when no range). */
  step(params: Float32Array, grads: Float32Array, lr: number, range?: UpdateRange): void;
  /** Marks the end of one global update (advances the step counter used by bias correction). */
  advance(): void;
  /** A deep copy of the optimizer state, for checkpoints. */
  state(): OptimizerState;
  /** Replaces the state with a deep copy of `state`; CrowdtrainError('CHECKPOINT_INVALID') if name or slot lengths differ. */
  load(state: OptimizerState): void;
}
