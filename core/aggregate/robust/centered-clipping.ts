import { z } from 'zod';
import { CrowdtrainError } from '../../protocol/errors.ts';
import { defineAggregator, normalisedWeights, type InputOutcome } from './aggregator.ts';

/** The L2 distance between `x` and `v`, in float64. */
function distance(x: Float32Array, v: Float32Array): number {
  let sum = 0;
  for (let j = 0; j < x.length; j++) {
    const d = x[j]! - v[j]!;
    sum += d * d;
  }
  return Math.sqrt(sum);
}

/**
 * `centered_clipping` (`tau`, `iterations` default 3, `momentum` default 0): centered clipping
 * (Karimireddy, He and Jaggi 2021): starting from a center v, `iterations` times
 * `v <- v + sum_i w_i * min(1, tau / |x_i - v|) * (x_i - v)` (weights by sample count, summing to
 * 1): every input pulls the center by at most its weight x tau per iteration, whatever its size.
 * The center starts at `momentum` x the previous round's aggregate (0: at zero every round,
 * stateless; 1: at the previous aggregate, the paper's choice); with momentum > 0 that aggregate
 * is state a checkpoint keeps (slot `center`).
 * @example createAggregator({ name: 'centered_clipping', tau: 1, iterations: 3, momentum: 0.9 }, paramCount)
 */
export const centeredClippingAggregator = defineAggregator({
  name: 'centered_clipping',
  summary: 'iterated clipping of every input around a center that starts at momentum x the previous aggregate',
  needsAllVectors: true,
  optionsSchema: z.strictObject({
    tau: z.number().positive(),
    iterations: z.int().min(1).max(100).default(3),
    momentum: z.number().min(0).max(1).default(0),
  }),
  create: ({ tau, iterations, momentum }, paramCount) => {
    const center = new Float32Array(momentum > 0 ? paramCount : 0);
    return {
      aggregate(inputs, out) {
        const shares = normalisedWeights(inputs);
        if (momentum > 0) for (let j = 0; j < out.length; j++) out[j] = momentum * center[j]!;
        else out.fill(0);
        let scales: number[] = [];
        let distances: number[] = [];
        for (let l = 0; l < iterations; l++) {
          distances = inputs.map((u) => distance(u.values, out));
          // A distance of 0 moves nothing; NaN (a NaN input) spreads into out for the guard.
          scales = distances.map((d) => (d > tau ? tau / d : d === d ? 1 : NaN));
          const coefficients = shares.map((w, i) => w * scales[i]!);
          const keep = 1 - coefficients.reduce((s, c) => s + c, 0);
          for (let j = 0; j < out.length; j++) out[j] = out[j]! * keep;
          for (let i = 0; i < inputs.length; i++) {
            const x = inputs[i]!.values;
            const c = coefficients[i]!;
            for (let j = 0; j < out.length; j++) out[j] = out[j]! + c * x[j]!;
          }
        }
        const outcomes: InputOutcome[] = inputs.map((_, i) => ({
          excluded: false,
          scale: scales[i]!,
          weight: shares[i]! * scales[i]!,
          reason: scales[i]! < 1 ? `distance ${distances[i]!.toPrecision(4)} from the center clipped to tau ${tau}` : null,
        }));
        return { inputs: outcomes, notes: [] };
      },
      commit(out) {
        if (momentum > 0) center.set(out);
      },
      state: (): Record<string, Float32Array> => (momentum > 0 ? { center: center.slice() } : {}),
      load(slots) {
        const names = Object.keys(slots);
        const want = momentum > 0 ? ['center'] : [];
        if (names.sort().join(',') !== want.join(',')) {
          throw new CrowdtrainError('CHECKPOINT_INVALID', `centered_clipping state has slots [${names.join(', ')}], expected [${want.join(', ')}] (momentum ${momentum})`);
        }
        const saved = slots.center;
        if (saved === undefined) return;
        if (saved.length !== paramCount) {
          throw new CrowdtrainError('CHECKPOINT_INVALID', `centered_clipping center has ${saved.length} values, expected ${paramCount}`);
        }
        if (!saved.every(Number.isFinite)) throw new CrowdtrainError('CHECKPOINT_INVALID', 'centered_clipping center holds non-finite values');
        center.set(saved);
      },
    };
  },
});
