import type { OptimizerState } from '../../optim/optimizer-state.ts';
import { reduceWeightedMean } from '../reduce-weighted-mean.ts';
import { splitAggregatorState, withAggregatorState } from './aggregator-state.ts';
import { aggregationMetrics, createAggregator, type AggregatorName, type AggregatorSpecInput } from './index.ts';

/** What a result aggregation reads of one worker's result: its vector and the samples it was computed on. */
export interface SampledVector {
  readonly values: Float32Array;
  readonly sampleCount: number;
}

/** One round's aggregate and the rule metrics it adds (none for the mean). */
export interface AggregatedResults {
  /** The aggregate: `scratch` when one was given, else a buffer the aggregation owns (reused every round). */
  values: Float32Array;
  /** `aggregator_excluded` and `aggregator_clipped` for a robust aggregator; empty for the mean. */
  metrics: Record<string, number>;
}

/**
 * The "aggregate the workers' vectors" step every update rule shares (ddp's gradients, fedavg's
 * and diloco's deltas), plus the aggregator's share of the rule's checkpointed state.
 */
export interface ResultAggregation {
  readonly name: AggregatorName;
  /** Aggregates `results` (weights: sample counts) into `scratch` or an own buffer. */
  aggregate(results: readonly SampledVector[], scratch?: Float32Array): AggregatedResults;
  /** The rule's state: `optimizer` plus the aggregator's slots under `aggregator.*` (unchanged for stateless aggregators). */
  state(optimizer: OptimizerState): OptimizerState;
  /** Loads the aggregator's slots of a state from {@link state} and returns the optimizer's part. */
  load(state: OptimizerState): OptimizerState;
}

/**
 * Creates a run's result aggregation from its mode's `aggregator` spec. The default, `mean`, is
 * the weighted mean by sample count on reduceWeightedMean (the reduce arena's SIMD path when the
 * inputs and `scratch` are arena slots), exactly as before aggregators were selectable: no
 * metrics, and the state passes through untouched. Any other name runs from the registry of
 * core/aggregate/robust (validated there, CrowdtrainError('INVALID_CONFIG') naming the field).
 * @example
 * const agg = createResultAggregation(options.aggregator ?? DEFAULT_AGGREGATOR, paramCount);
 * const { values, metrics } = agg.aggregate(results, scratch);
 */
export function createResultAggregation(spec: AggregatorSpecInput, paramCount: number): ResultAggregation {
  if (spec.name === 'mean') {
    return {
      name: 'mean',
      aggregate: (results, scratch) => ({
        values: reduceWeightedMean(
          results.map((r) => ({ values: r.values, weight: r.sampleCount })),
          scratch,
        ),
        metrics: {},
      }),
      state: (optimizer) => optimizer,
      load: (state) => state,
    };
  }
  const robust = createAggregator(spec, paramCount);
  let own: Float32Array | null = null;
  return {
    name: robust.name,
    aggregate(results, scratch) {
      const out = scratch ?? (own ??= new Float32Array(paramCount));
      const report = robust.aggregate(
        results.map((r) => ({ values: r.values, weight: r.sampleCount })),
        out,
      );
      return { values: out, metrics: aggregationMetrics(report) };
    },
    state: (optimizer) => withAggregatorState(optimizer, robust),
    load(state) {
      const split = splitAggregatorState(state);
      robust.load(split.aggregator);
      return split.optimizer;
    },
  };
}
