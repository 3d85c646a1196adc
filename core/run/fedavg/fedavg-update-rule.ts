import { createResultAggregation } from '../../aggregate/robust/aggregate-results.ts';
import { DEFAULT_AGGREGATOR, type AggregatorSpecInput } from '../../aggregate/robust/index.ts';
import { globalNorm } from '../../optim/clip.ts';
import type { LocalUpdateRule, WorkerResult } from '../training-mode.ts';
import type { ServerOptimizerSpec } from './fedavg-options.ts';
import { createServerOptimizer } from './server-optimizers.ts';

/**
 * The FedAvg family's server half (Flower's `aggregate_fit`): the sampled clients' weight deltas
 * aggregated, then the server optimizer. The default aggregator, `mean`, averages them by sample
 * count (the reduce arena's SIMD path, as before aggregators were selectable); any other of
 * core/aggregate/robust (`fedavg: { aggregator: { name: 'median' } }`, Flower's FedMedian;
 * `trimmed_mean`, FedTrimmedAvg; `krum`) combines them robustly, and the rule then also logs
 * `aggregator_excluded` and `aggregator_clipped`. Its state (momentum, Adam moments, and the
 * aggregator's slots under `aggregator.*`) is what checkpoints keep.
 * @example const rule = createFedavgUpdateRule({ name: 'fedadam', lr: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-9 }, paramCount, { name: 'median' });
 */
export function createFedavgUpdateRule(spec: ServerOptimizerSpec, paramCount: number, aggregator: AggregatorSpecInput = DEFAULT_AGGREGATOR): LocalUpdateRule {
  const server = createServerOptimizer(spec, paramCount);
  const aggregation = createResultAggregation(aggregator, paramCount);
  return {
    apply(params: Float32Array, results: readonly WorkerResult[], _step: number, scratch?: Float32Array) {
      const { values: delta, metrics } = aggregation.aggregate(results, scratch);
      const norm = globalNorm(delta);
      server.step(params, delta);
      return { lr: server.lr, metrics: { mean_delta_norm: norm, clients_reported: results.length, ...metrics } };
    },
    state: () => aggregation.state(server.state()),
    load: (state) => server.load(aggregation.load(state)),
  };
}
