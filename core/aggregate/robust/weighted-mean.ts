import { z } from 'zod';
import { reduceWeightedMean } from '../reduce-weighted-mean.ts';
import { defineAggregator, normalisedWeights, used } from './aggregator.ts';

/**
 * `mean`: the weighted mean by sample count (FedAvg's and DDP's rule, `reduceWeightedMean`: the
 * SIMD kernel when the inputs are slots of a reduce arena). Not robust: one input can move it
 * anywhere within the norm bound (see docs/robustness.md). It folds each input into a running
 * sum, so it does not need every vector at once.
 * @example createAggregator({ name: 'mean' }, paramCount)
 */
export const weightedMeanAggregator = defineAggregator({
  name: 'mean',
  summary: 'weighted mean by sample count (not robust)',
  needsAllVectors: false,
  optionsSchema: z.strictObject({}),
  create: () => ({
    aggregate(inputs, out) {
      reduceWeightedMean(inputs, out);
      return { inputs: normalisedWeights(inputs).map((w) => used(w)), notes: [] };
    },
  }),
});
