import { z } from 'zod';
import { reduceWeightedMean } from '../reduce-weighted-mean.ts';
import { defineAggregator, excluded, used, type AggregationReport, type AggregatorInput } from './aggregator.ts';
import { compareVectors, krumScores, pairwiseSquaredDistances } from './pairwise-distances.ts';

/** Neighbours a Krum score sums over for n inputs and f tolerated attackers: n - f - 2, at least 1 (with a note when clamped). */
export function krumNeighbours(n: number, f: number, notes: string[], name: string): number {
  const k = n - f - 2;
  if (k >= 1) return k;
  notes.push(`${name}: ${n} inputs are too few for f = ${f} (needs n >= 2f + 3 = ${2 * f + 3}); scores use the 1 nearest neighbour`);
  return 1;
}

/**
 * The inputs with the `m` lowest Krum scores (ties: the lexicographically smaller vector), their weighted mean into
 * `out`, and a report excluding the rest with their score and the cutoff.
 */
function selectByKrum(name: string, inputs: readonly AggregatorInput[], out: Float32Array, f: number, m: number): AggregationReport {
  const n = inputs.length;
  const notes: string[] = [];
  const neighbours = krumNeighbours(n, f, notes, name);
  const members = inputs.map((_, i) => i);
  const scores = krumScores(pairwiseSquaredDistances(inputs.map((u) => u.values)), n, members, neighbours);
  const order = [...members].sort((a, b) => scores[a]! - scores[b]! || compareVectors(inputs[a]!.values, inputs[b]!.values) || a - b);
  const keep = Math.min(m, n);
  if (m > n) notes.push(`${name}: m = ${m} but only ${n} inputs; all are averaged`);
  const selected = new Set(order.slice(0, keep));
  const chosen = inputs.filter((_, i) => selected.has(i));
  reduceWeightedMean(chosen, out);
  const total = chosen.reduce((s, u) => s + u.weight, 0);
  const cutoff = scores[order[keep - 1]!]!;
  return {
    inputs: inputs.map((u, i) =>
      selected.has(i)
        ? used(u.weight / total)
        : excluded(`${name} score ${scores[i]!.toPrecision(4)} (sum of squared distances to its ${neighbours} nearest) is not among the ${keep} lowest (cutoff ${cutoff.toPrecision(4)})`),
    ),
    notes,
  };
}

/** The number of attackers tolerated, `f`: a non-negative integer. */
const F = z.int().min(0).default(1);

/**
 * `krum` (`f`, default 1): Krum (Blanchard et al. 2017): the one input whose n - f - 2 nearest
 * others are closest (sum of squared distances); tolerates f attackers when n >= 2f + 3. The
 * others are excluded, each with its score.
 * @example createAggregator({ name: 'krum', f: 2 }, paramCount)
 */
export const krumAggregator = defineAggregator({
  name: 'krum',
  summary: 'the one input closest to its n - f - 2 nearest neighbours',
  needsAllVectors: true,
  optionsSchema: z.strictObject({ f: F }),
  create: ({ f }) => ({ aggregate: (inputs, out) => selectByKrum('krum', inputs, out, f, 1) }),
});

/**
 * `multi_krum` (`f`, default 1; `m`, default n - f): multi-Krum (El Mhamdi et al. 2018): the
 * weighted mean (by sample count) of the m inputs with the lowest Krum scores.
 * @example createAggregator({ name: 'multi_krum', f: 2, m: 4 }, paramCount)
 */
export const multiKrumAggregator = defineAggregator({
  name: 'multi_krum',
  summary: 'weighted mean of the m inputs with the lowest Krum scores (m defaults to n - f)',
  needsAllVectors: true,
  optionsSchema: z.strictObject({ f: F, m: z.int().min(1).nullable().default(null) }),
  create: ({ f, m }) => ({ aggregate: (inputs, out) => selectByKrum('multi_krum', inputs, out, f, m ?? Math.max(1, inputs.length - f)) }),
});
