import { z } from 'zod';
import { defineAggregator, used } from './aggregator.ts';
import { SorterCache } from './coordinate-sorter.ts';

/** Values cut from each end per coordinate: floor(beta * n), which stays below n / 2 for beta < 0.5. */
export function trimCount(beta: number, n: number): number {
  return Math.floor(beta * n);
}

/**
 * The ranks a trimmed mean must place exactly: the b smallest and b largest. A compare-exchange
 * only permutes values, so once those are in place the wires b .. n - b - 1 hold exactly the kept
 * values (in some order): far fewer comparators than sorting the middle.
 */
function cutRanks(beta: number, n: number): number[] {
  const b = trimCount(beta, n);
  return Array.from({ length: 2 * b }, (_, k) => (k < b ? k : n - 2 * b + k));
}

/**
 * Writes the coordinate-wise `beta`-trimmed mean of `arrays` into `out`: per coordinate, the
 * floor(beta * n) smallest and as many largest values are dropped and the rest averaged. `sorters` comes from {@link trimmedMeanSorters} with the same beta.
 */
export function coordinateTrimmedMean(arrays: readonly Float32Array[], out: Float32Array, beta: number, sorters: SorterCache): void {
  const n = arrays.length;
  const b = trimCount(beta, n);
  const kept = Array.from({ length: n - 2 * b }, (_, k) => b + k);
  const weights = kept.map(() => 1 / kept.length);
  const sorter = sorters.get(n);
  sorter.forEachBlock(arrays, (_rows, start, length) => sorter.combineRanks(kept, weights, out, start, length));
}

/** Sorters pruned to the ranks a `beta`-trimmed mean keeps (`simd: false` forces JavaScript, for tests). */
export function trimmedMeanSorters(beta: number, opts: { simd?: boolean } = {}): SorterCache {
  return new SorterCache((n) => cutRanks(beta, n), opts);
}

/**
 * `trimmed_mean` (`beta`, default 0.2): the coordinate-wise trimmed mean (Yin et al. 2018;
 * Flower's FedTrimmedAvg): per coordinate, drop the floor(beta * n) smallest and largest values
 * and average the rest. Inputs count equally. Survives up to floor(beta * n) arbitrary inputs per
 * coordinate; with fewer than 1 / beta inputs nothing is trimmed (the report says so).
 * @example createAggregator({ name: 'trimmed_mean', beta: 0.25 }, paramCount)
 */
export const trimmedMeanAggregator = defineAggregator({
  name: 'trimmed_mean',
  summary: 'coordinate-wise mean after dropping the beta fraction of smallest and largest values; inputs count equally',
  needsAllVectors: true,
  optionsSchema: z.strictObject({
    beta: z.number().min(0).lt(0.5, 'beta must be below 0.5 (that fraction is cut from each end)').default(0.2),
  }),
  create: ({ beta }) => {
    const sorters = trimmedMeanSorters(beta);
    return {
      aggregate(inputs, out) {
        const n = inputs.length;
        coordinateTrimmedMean(
          inputs.map((u) => u.values),
          out,
          beta,
          sorters,
        );
        const b = trimCount(beta, n);
        const notes = b === 0 && beta > 0 ? [`trimmed_mean: ${n} inputs with beta ${beta} trim none (need at least ${Math.ceil(1 / beta)})`] : [];
        return { inputs: inputs.map(() => used(null)), notes };
      },
    };
  },
});
