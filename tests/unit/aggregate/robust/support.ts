import { SeededRandom } from '../../../../core/data/seeded-random.ts';
import type { AggregatorInput } from '../../../../core/aggregate/robust/index.ts';

/** Inputs from rows of numbers, weight 1 unless given. */
export function inputs(rows: number[][], weights?: number[]): AggregatorInput[] {
  return rows.map((r, k) => ({ values: Float32Array.from(r), weight: weights?.[k] ?? 1 }));
}

/** n seeded standard-normal vectors of d values (times `scale`). */
export function randomInputs(seed: number, n: number, d: number, scale = 1): AggregatorInput[] {
  const rng = new SeededRandom(seed);
  return Array.from({ length: n }, () => ({ values: Float32Array.from({ length: d }, () => rng.normal() * scale), weight: 1 + rng.int(4) }));
}

/** Per coordinate, the sorted values of `rows` (float64 reference). */
export function sortedColumns(rows: readonly Float32Array[]): number[][] {
  const d = rows[0]!.length;
  return Array.from({ length: d }, (_, i) => rows.map((r) => r[i]!).sort((a, b) => a - b));
}

/** The L2 norm of a - b in float64. */
export function distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

/** The largest |a[i] - b[i]|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}
