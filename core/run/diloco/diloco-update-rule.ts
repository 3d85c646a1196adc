import { reduceWeightedMean } from '../../aggregate/reduce-weighted-mean.ts';
import { globalNorm } from '../../optim/clip.ts';
import { createFlatOptimizer } from '../../optim/flat-optimizer.ts';
import { SgdSpecSchema } from '../../optim/optimizer-spec.ts';
import type { LocalUpdateRule, WorkerResult } from '../training-mode.ts';
import type { DilocoOptions } from './diloco-options.ts';

/**
 * DiLoCo's outer step: the workers' deltas (`start − end` of their H inner steps) averaged by
 * sample count into the outer gradient, then SGD with `outer_lr`, `outer_momentum` and Nesterov
 * (tfjs's and PyTorch's formulation: `acc = m·acc + g; p −= lr·(g + m·acc)`). The outer momentum
 * is the rule's state, so it is in every checkpoint and a resume continues it.
 * @example const rule = createDilocoUpdateRule(DilocoOptionsSchema.parse({}), paramCount);
 */
export function createDilocoUpdateRule(options: Pick<DilocoOptions, 'outer_lr' | 'outer_momentum' | 'nesterov'>, paramCount: number): LocalUpdateRule {
  const outer = createFlatOptimizer(
    SgdSpecSchema.parse({ name: 'sgd', lr: options.outer_lr, momentum: options.outer_momentum, nesterov: options.nesterov && options.outer_momentum > 0 }),
    paramCount,
  );
  return {
    apply(params: Float32Array, results: readonly WorkerResult[], _step: number, scratch?: Float32Array) {
      const delta = reduceWeightedMean(
        results.map((r) => ({ values: r.values, weight: r.sampleCount })),
        scratch,
      );
      const norm = globalNorm(delta);
      outer.step(params, delta, options.outer_lr);
      return { lr: options.outer_lr, metrics: { outer_grad_norm: norm } };
    },
    state: () => outer.state(),
    load: (state) => outer.load(state),
  };
}
