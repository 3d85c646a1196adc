import { CrowdtrainError } from '../protocol/errors.ts';

/** One contribution to a reduction: its values and its weight (e.g. the samples it was computed on). */
export interface WeightedUpdate {
  values: Float32Array;
  weight: number;
}

/** Elements per block: the output block (16 KiB) stays in L1 while every input streams through it. */
const BLOCK = 4096;

/**
 * The weighted mean `sum_i w_i * v_i / sum_i w_i`, written into `out` (allocated when omitted).
 * Weights are normalised once, the first update is written with a multiply and the others are
 * accumulated two at a time, block by block, so the output block stays in cache.
 * Throws CrowdtrainError SHAPE_MISMATCH (lengths), INVALID_MESSAGE (weights) or INTERNAL (no updates).
 * @example const mean = reduceWeightedMean([{ values: g1, weight: 64 }, { values: g2, weight: 32 }]);
 */
export function reduceWeightedMean(updates: ReadonlyArray<WeightedUpdate>, out?: Float32Array): Float32Array {
  const first = updates[0];
  if (first === undefined) throw new CrowdtrainError('INTERNAL', 'reduceWeightedMean needs at least 1 update, got 0');
  const n = first.values.length;
  let total = 0;
  for (let k = 0; k < updates.length; k++) {
    const u = updates[k]!;
    if (u.values.length !== n) {
      throw new CrowdtrainError('SHAPE_MISMATCH', `update ${k} has ${u.values.length} values, expected ${n}`);
    }
    if (!(u.weight > 0) || !Number.isFinite(u.weight)) {
      throw new CrowdtrainError('INVALID_MESSAGE', `update ${k} has weight ${u.weight}, expected a finite number > 0`);
    }
    total += u.weight;
  }
  const result = out ?? new Float32Array(n);
  if (result.length !== n) {
    throw new CrowdtrainError('SHAPE_MISMATCH', `output has ${result.length} values, expected ${n}`);
  }
  for (const u of updates) {
    if (u.values === result && updates.length > 1) {
      throw new CrowdtrainError('INTERNAL', 'reduceWeightedMean output must not alias an input');
    }
  }
  const arrays = updates.map((u) => u.values);
  const weights = updates.map((u) => u.weight / total);
  for (let start = 0; start < n; start += BLOCK) {
    const end = Math.min(n, start + BLOCK);
    scaleInto(result, first.values, weights[0]!, start, end);
    let k = 1;
    for (; k + 1 < arrays.length; k += 2) {
      accumulate2(result, arrays[k]!, weights[k]!, arrays[k + 1]!, weights[k + 1]!, start, end);
    }
    if (k < arrays.length) accumulate1(result, arrays[k]!, weights[k]!, start, end);
  }
  return result;
}

/**
 * The unweighted mean of equally long vectors.
 * @example const mean = reduceMean([g1, g2, g3]);
 */
export function reduceMean(values: ReadonlyArray<Float32Array>, out?: Float32Array): Float32Array {
  return reduceWeightedMean(
    values.map((v) => ({ values: v, weight: 1 })),
    out,
  );
}

function scaleInto(out: Float32Array, a: Float32Array, wa: number, start: number, end: number): void {
  for (let i = start; i < end; i++) out[i] = a[i]! * wa;
}

function accumulate1(out: Float32Array, a: Float32Array, wa: number, start: number, end: number): void {
  for (let i = start; i < end; i++) out[i] = out[i]! + a[i]! * wa;
}

function accumulate2(
  out: Float32Array,
  a: Float32Array,
  wa: number,
  b: Float32Array,
  wb: number,
  start: number,
  end: number,
): void {
  for (let i = start; i < end; i++) out[i] = out[i]! + a[i]! * wa + b[i]! * wb;
}
