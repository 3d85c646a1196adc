import { z } from 'zod';
import { defineAggregator, used } from './aggregator.ts';
import { SorterCache } from './coordinate-sorter.ts';

/** The two middle ranks of n values (equal when n is odd). */
function middleRanks(n: number): [number, number] {
  return [(n - 1) >> 1, n >> 1];
}

/**
 * Writes the coordinate-wise median of `arrays` (each `out.length` long) into `out`: the middle
 * value, or the mean of the two middle values when there is an even number of arrays.
 * `sorters` comes from {@link medianSorters}.
 */
export function coordinateMedian(arrays: readonly Float32Array[], out: Float32Array, sorters: SorterCache): void {
  const ranks = middleRanks(arrays.length);
  const sorter = sorters.get(arrays.length);
  sorter.forEachBlock(arrays, (_rows, start, length) => sorter.combineRanks(ranks, [0.5, 0.5], out, start, length));
}

/** Sorters pruned to the median's ranks (`simd: false` forces the JavaScript network, for tests). */
export function medianSorters(opts: { simd?: boolean } = {}): SorterCache {
  return new SorterCache(middleRanks, opts);
}

/**
 * `median`: the coordinate-wise median (Yin et al. 2018; Flower's FedMedian): per coordinate the
 * middle value across the inputs, the mean of the two middle ones for an even count. Inputs count
 * equally whatever their sample counts (as in Flower). Any minority of arbitrary inputs can move
 * a coordinate at most to the range of the honest values; no input is marked excluded, since the
 * output is not a combination of whole inputs.
 * @example createAggregator({ name: 'median' }, paramCount)
 */
export const medianAggregator = defineAggregator({
  name: 'median',
  summary: 'coordinate-wise median; inputs count equally',
  needsAllVectors: true,
  optionsSchema: z.strictObject({}),
  create: () => {
    const sorters = medianSorters();
    return {
      aggregate(inputs, out) {
        coordinateMedian(
          inputs.map((u) => u.values),
          out,
          sorters,
        );
        return { inputs: inputs.map(() => used(null)), notes: [] };
      },
    };
  },
});
