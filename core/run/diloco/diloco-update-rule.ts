import { createResultAggregation } from '../../aggregate/robust/aggregate-results.ts';
import { DEFAULT_AGGREGATOR } from '../../aggregate/robust/index.ts';
import { globalNorm } from '../../optim/clip.ts';
import { createFlatOptimizer } from '../../optim/flat-optimizer.ts';
import { SgdSpecSchema } from '../../optim/optimizer-spec.ts';
import type { LocalUpdateRule, WorkerResult } from '../training-mode.ts';
import type { DilocoOptions } from './diloco-options.ts';

/**
 * DiLoCo's outer step: the workers' deltas (`start − end` of their H inner steps) aggregated into
 * the outer gradient, then SGD with `outer_lr`, `outer_momentum` and Nesterov (tfjs's and
 * PyTorch's formulation: `acc = m·acc + g; p −= lr·(g + m·acc)`). The default aggregator, `mean`,
 * averages the deltas by sample count (the reduce arena's SIMD path, as before aggregators were
 * selectable); any other of core/aggregate/robust (`diloco: { aggregator: { name: 'trimmed_mean',
 * beta: 0.2 } }`) combines them robustly, and the rule then also logs `aggregator_excluded` and
 * `aggregator_clipped`. The outer momentum, and the aggregator's slots under `aggregator.*`, are
 * the rule's state, so they are in every checkpoint and a resume continues them.
 * @example const rule = createDilocoUpdateRule(DilocoOptionsSchema.parse({}), paramCount);
 */
export function createDilocoUpdateRule(
  options: Pick<DilocoOptions, 'outer_lr' | 'outer_momentum' | 'nesterov' | 'aggregator'>,
  paramCount: number,
): LocalUpdateRule {
  const outer = createFlatOptimizer(
    SgdSpecSchema.parse({ name: 'sgd', lr: options.outer_lr, momentum: options.outer_momentum, nesterov: options.nesterov && options.outer_momentum > 0 }),
    paramCount,
  );
  const aggregation = createResultAggregation(options.aggregator ?? DEFAULT_AGGREGATOR, paramCount);
  return {
    apply(params: Float32Array, results: readonly WorkerResult[], _step: number, scratch?: Float32Array) {
      const { values: delta, metrics } = aggregation.aggregate(results, scratch);
      const norm = globalNorm(delta);
      outer.step(params, delta, options.outer_lr);
      return { lr: options.outer_lr, metrics: { outer_grad_norm: norm, ...metrics } };
    },
    state: () => aggregation.state(outer.state()),
    load: (state) => outer.load(aggregation.load(state)),
  };
}
