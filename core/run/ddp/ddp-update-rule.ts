import { reduceWeightedMean } from '../../aggregate/reduce-weighted-mean.ts';
import { clipByGlobalNorm, globalNorm } from '../../optim/clip.ts';
import { createFlatOptimizer, type FlatOptimizer } from '../../optim/flat-optimizer.ts';
import { lrAt } from '../../optim/lr-schedule.ts';
import type { RunConfig } from '../../config/common-config.ts';
import type { UpdateRule, WorkerResult } from '../training-mode.ts';

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
 * DDP's server rule: the weighted mean of the workers' gradients by sample count (equal to the
 * gradient of the mean loss over the whole global batch), then {@link applyGradientStep}.
 */
export function createDdpUpdateRule(config: RunConfig, paramCount: number): UpdateRule {
  const optimizer = createFlatOptimizer(config.optimizer, paramCount);
  return {
    apply(params: Float32Array, results: readonly WorkerResult[], step: number, scratch?: Float32Array) {
      const grad = reduceWeightedMean(
        results.map((r) => ({ values: r.values, weight: r.sampleCount })),
        scratch,
      );
      const { lr, gradNorm } = applyGradientStep(params, grad, optimizer, config, step);
      return { lr, metrics: { grad_norm: gradNorm } };
    },
    state: () => optimizer.state(),
    load: (state) => optimizer.load(state),
  };
}
