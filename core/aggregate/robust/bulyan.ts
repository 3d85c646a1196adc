import { z } from 'zod';
import { defineAggregator, excluded, used, type InputOutcome } from './aggregator.ts';
import { SorterCache, type CoordinateSorter } from './coordinate-sorter.ts';
import { compareVectors, krumScores, pairwiseSquaredDistances } from './pairwise-distances.ts';

/**
 * Writes, per coordinate, the mean of the `beta` values closest to the median of the sorted
 * `arrays` (Bulyan's second stage): the window grows from the middle one (or two) values towards
 * whichever neighbour is closer to the median.
 */
export function coordinateClosestToMedianMean(arrays: readonly Float32Array[], out: Float32Array, beta: number, sorter: CoordinateSorter): void {
  const n = arrays.length;
  const lo = (n - 1) >> 1;
  const hi = n >> 1;
  sorter.forEachBlock(arrays, (rows, start, length) => {
    for (let j = 0; j < length; j++) {
      const median = (rows[lo]![j]! + rows[hi]![j]!) * 0.5;
      if (median !== median) {
        out[start + j] = median; // a NaN block (see CoordinateSorter): NaN out, for the guard
        continue;
      }
      let l = lo;
      let r = hi;
      let sum = rows[lo]![j]! + (hi !== lo ? rows[hi]![j]! : 0);
      for (let size = r - l + 1; size < beta; size++) {
        const below = l > 0 ? median - rows[l - 1]![j]! : Infinity;
        const above = r < n - 1 ? rows[r + 1]![j]! - median : Infinity;
        if (l > 0 && (r === n - 1 || below <= above)) sum += rows[--l]![j]!;
        else sum += rows[++r]![j]!;
      }
      out[start + j] = sum / beta;
    }
  });
}

/**
 * `bulyan` (`f`, default 1): Bulyan (El Mhamdi et al. 2018): Krum, applied repeatedly on the
 * remaining inputs, selects theta = n - 2f of them; then per coordinate the beta = theta - 2f
 * values closest to their median are averaged. Tolerates f attackers when n >= 4f + 3; a round
 * with fewer inputs runs with the largest f it allows (the report says so). Inputs count equally.
 * @example createAggregator({ name: 'bulyan', f: 1 }, paramCount)
 */
export const bulyanAggregator = defineAggregator({
  name: 'bulyan',
  summary: 'Krum-selects n - 2f inputs, then per coordinate averages the n - 4f values closest to their median',
  needsAllVectors: true,
  optionsSchema: z.strictObject({ f: z.int().min(0).default(1) }),
  create: ({ f }) => {
    const sorters = new SorterCache(() => 'all');
    return {
      aggregate(inputs, out) {
        const n = inputs.length;
        const notes: string[] = [];
        let fUsed = f;
        if (n < 4 * f + 3) {
          fUsed = Math.max(0, Math.floor((n - 3) / 4));
          notes.push(`bulyan: ${n} inputs are too few for f = ${f} (needs n >= 4f + 3 = ${4 * f + 3}); this round used f = ${fUsed}`);
        }
        const theta = n - 2 * fUsed;
        const beta = theta - 2 * fUsed;
        const d2 = pairwiseSquaredDistances(inputs.map((u) => u.values));
        const remaining = inputs.map((_, i) => i);
        const selected: number[] = [];
        const outcomes: InputOutcome[] = inputs.map(() => used(null));
        while (selected.length < theta) {
          const scores = krumScores(d2, n, remaining, Math.max(1, remaining.length - fUsed - 2));
          let best = 0;
          for (let k = 1; k < remaining.length; k++) {
            const cmp = scores[k]! - scores[best]! || compareVectors(inputs[remaining[k]!]!.values, inputs[remaining[best]!]!.values);
            if (cmp < 0) best = k;
          }
          selected.push(...remaining.splice(best, 1));
        }
        for (const i of remaining) outcomes[i] = excluded(`bulyan: not among the ${theta} inputs Krum selected one by one (f = ${fUsed})`);
        selected.sort((a, b) => a - b);
        coordinateClosestToMedianMean(
          selected.map((i) => inputs[i]!.values),
          out,
          beta,
          sorters.get(theta),
        );
        return { inputs: outcomes, notes };
      },
    };
  },
});
