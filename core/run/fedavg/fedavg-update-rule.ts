import { reduceWeightedMean } from '../../aggregate/reduce-weighted-mean.ts';
import { globalNorm } from '../../optim/clip.ts';
import type { LocalUpdateRule, WorkerResult } from '../training-mode.ts';
import type { ServerOptimizerSpec } from './fedavg-options.ts';
import { createServerOptimizer } from './server-optimizers.ts';

/**
 * The FedAvg family's server half (Flower's `aggregate_fit`): the sampled clients' weight deltas
 * averaged by sample count, then the server optimizer. Its state (momentum, Adam moments) is
 * what checkpoints keep.
 * @example const rule = createFedavgUpdateRule({ name: 'fedadam', lr: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-9 }, paramCount);
 */
export function createFedavgUpdateRule(spec: ServerOptimizerSpec, paramCount: number): LocalUpdateRule {
  const server = createServerOptimizer(spec, paramCount);
  return {
    apply(params: Float32Array, results: readonly WorkerResult[], _step: number, scratch?: Float32Array) {
      const delta = reduceWeightedMean(
        results.map((r) => ({ values: r.values, weight: r.sampleCount })),
        scratch,
      );
      const norm = globalNorm(delta);
      server.step(params, delta);
      return { lr: server.lr, metrics: { mean_delta_norm: norm, clients_reported: results.length } };
    },
    state: () => server.state(),
    load: (state) => server.load(state),
  };
}
