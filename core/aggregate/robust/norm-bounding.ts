import { z } from 'zod';
import { reduceWeightedMean } from '../reduce-weighted-mean.ts';
import { globalNorm } from '../../optim/clip.ts';
import { defineAggregator, normalisedWeights, type InputOutcome } from './aggregator.ts';

/**
 * `norm_bounding` (`max_norm`): each input scaled down to L2 norm at most `max_norm`, then the
 * weighted mean by sample count (Sun et al. 2019, "Can you really backdoor federated
 * learning?"). Bounds what one input can move the output by: weight share x max_norm. Each input
 * can be clipped as it arrives, so it does not need every vector at once.
 * @example createAggregator({ name: 'norm_bounding', max_norm: 5 }, paramCount)
 */
export const normBoundingAggregator = defineAggregator({
  name: 'norm_bounding',
  summary: 'each input clipped to L2 norm max_norm, then the weighted mean',
  needsAllVectors: false,
  optionsSchema: z.strictObject({ max_norm: z.number().positive() }),
  create: ({ max_norm: maxNorm }) => ({
    aggregate(inputs, out) {
      const norms = inputs.map((u) => globalNorm(u.values));
      if (!norms.every(Number.isFinite)) {
        // Non-finite input: hand the registry's guard a non-finite output, it excludes and reruns.
        out.fill(NaN);
        return { inputs: inputs.map(() => ({ excluded: false, scale: 1, weight: null, reason: null })), notes: [] };
      }
      const scales = norms.map((norm) => (norm > maxNorm ? maxNorm / norm : 1));
      const shares = normalisedWeights(inputs);
      // The mean of the scaled inputs: weights w_i * s_i through the (SIMD) weighted mean, which
      // divides by sum(w_i * s_i); rescale by that over sum(w_i).
      const scaled = inputs.map((u, i) => ({ values: u.values, weight: u.weight * scales[i]! }));
      reduceWeightedMean(scaled, out);
      const factor = shares.reduce((s, w, i) => s + w * scales[i]!, 0);
      if (factor !== 1) for (let j = 0; j < out.length; j++) out[j] = out[j]! * factor;
      const outcomes: InputOutcome[] = inputs.map((_, i) => ({
        excluded: false,
        scale: scales[i]!,
        weight: shares[i]! * scales[i]!,
        reason: scales[i]! < 1 ? `norm ${norms[i]!.toPrecision(4)} clipped to max_norm ${maxNorm}` : null,
      }));
      return { inputs: outcomes, notes: [] };
    },
  }),
});
