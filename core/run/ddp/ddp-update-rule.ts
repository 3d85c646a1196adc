import { createResultAggregation } from '../../aggregate/robust/aggregate-results.ts';
import { DEFAULT_AGGREGATOR, type AggregatorSpecInput } from '../../aggregate/robust/index.ts';
import { clipByGlobalNorm, globalNorm } from '../../optim/clip.ts';
import { createFlatOptimizer, type FlatOptimizer } from '../../optim/flat-optimizer.ts';
import { lrAt } from '../../optim/lr-schedule.ts';
import type { RunConfig } from '../../config/common-config.ts';
import type { LocalUpdateRule, WorkerResult } from '../training-mode.ts';

/**
 * The one gradient update sequence: clip by global norm (when `max_grad_norm` is set), the learning
 * rate from the schedule (a pure function of the step), then the flat optimizer, in place.
 * Returns the learning rate and the gradient's norm before clipping.
 * @example const { lr, gradNorm } = applyGradientStep(params, grad, optimizer, config, step);
 */
export function applyGradientStep(
  params: Float32Array,
  grad: Float32Array,
  optimizer: FlatOptimizer,
  config: Pick<RunConfig, 'max_grad_norm' | 'lr_schedule' | 'optimizer' | 'total_updates'>,
  step: number,
): { lr: number; gradNorm: number } {
  const gradNorm = config.max_grad_norm !== null ? clipByGlobalNorm(grad, config.max_grad_norm).norm : globalNorm(grad);
  const lr = lrAt(config.lr_schedule, config.optimizer.lr, step, config.total_updates);
  optimizer.step(params, grad, lr);
  return { lr, gradNorm };
}

/**
 * DDP's server rule: the workers' gradients aggregated, then {@link applyGradientStep}. The
 * default aggregator, `mean`, is the weighted mean by sample count (equal to the gradient of the
 * mean loss over the whole global batch) on the reduce arena's SIMD path, exactly as before
 * aggregators were selectable. Any other (`ddp: { aggregator: { name: 'median' } }`, see
 * core/aggregate/robust) runs from the registry; the rule then logs `aggregator_excluded` and
 * `aggregator_clipped` per update, and checkpoints the aggregator's state (centered clipping's
 * center) beside the optimizer's (both through {@link createResultAggregation}).
 */
export function createDdpUpdateRule(config: RunConfig, paramCount: number, aggregator: AggregatorSpecInput = DEFAULT_AGGREGATOR): LocalUpdateRule {
  const optimizer = createFlatOptimizer(config.optimizer, paramCount);
  const aggregation = createResultAggregation(aggregator, paramCount);
  return {
    apply(params: Float32Array, results: readonly WorkerResult[], step: number, scratch?: Float32Array) {
      const { values: grad, metrics } = aggregation.aggregate(results, scratch);
      const { lr, gradNorm } = applyGradientStep(params, grad, optimizer, config, step);
      return { lr, metrics: { grad_norm: gradNorm, ...metrics } };
    },
    state: () => aggregation.state(optimizer.state()),
    load: (state) => optimizer.load(aggregation.load(state)),
  };
}
