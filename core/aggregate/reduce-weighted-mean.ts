import { CrowdtrainError } from '../protocol/errors.ts';
import { arenaKernelOf, type ArenaKernel } from './reduce-arena.ts';

/** One contribution to a reduction: its values and its weight (e.g. the samples it was computed on). */
export interface WeightedUpdate {
  values: Float32Array;
  weight: number;
}

/** Elements per block: the output block (16 KiB) stays in L1 while every input streams through it. */
const BLOCK = 4096;

/**
 * The weighted mean `sum_i w_i * v_i / sum_i w_i`, written into `out` (allocated when omitted).
 * Weights are normalised once; block by block (so the output block stays in L1), the first four
 * updates are written with multiplies and the others accumulated four at a time.
 * When the inputs and `out` are all slots of one {@link createReduceArena} arena, a WebAssembly
 * SIMD kernel does the same in float32 arithmetic, in place.
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
  const kernel = arenaKernelOf(result.buffer);
  const inArena = kernel !== undefined && isArenaSlot(result, result.buffer, kernel) && arrays.every((a) => isArenaSlot(a, result.buffer, kernel));
  if (inArena) {
    reduceInArena(kernel, result, arrays, weights);
    return result;
  }
  for (let start = 0; start < n; start += BLOCK) {
    const end = Math.min(n, start + BLOCK);
    for (let k = 0; k < arrays.length; k += 4) combine(result, arrays, weights, k, k > 0, start, end);
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

/** Elements per block on the SIMD path (64 KiB of output, L2-resident). */
const SIMD_BLOCK = 16384;

/** Whether `a` is exactly one slot of the arena owning `buffer` (so the padded tail is its own). */
function isArenaSlot(a: Float32Array, buffer: ArrayBufferLike, kernel: ArenaKernel): boolean {
  return a.buffer === buffer && a.length === kernel.length && a.byteOffset % kernel.slotBytes === 0;
}

/** The SIMD reduction over arena slots: groups of four, missing members padded with the zero slot. */
function reduceInArena(kernel: ArenaKernel, out: Float32Array, arrays: Float32Array[], weights: number[]): void {
  const { axpy4, zeroOffset, length } = kernel;
  const offsets = arrays.map((a) => a.byteOffset);
  while (offsets.length % 4 !== 0) {
    offsets.push(zeroOffset);
    weights.push(0);
  }
  const padded = Math.ceil(length / 4) * 4;
  for (let start = 0; start < padded; start += SIMD_BLOCK) {
    const bytes = Math.min(SIMD_BLOCK, padded - start) * 4;
    const at = start * 4;
    for (let k = 0; k < offsets.length; k += 4) {
      axpy4(
        out.byteOffset + at,
        offsets[k]! + at,
        offsets[k + 1]! + at,
        offsets[k + 2]! + at,
        offsets[k + 3]! + at,
        weights[k]!,
        weights[k + 1]!,
        weights[k + 2]!,
        weights[k + 3]!,
        bytes,
        k > 0 ? 1 : 0,
      );
    }
  }
}

/**
 * out[start,end) (+)= the weighted sum of up to 4 inputs from index `k`; four per pass so that
 * the output block is read and written once per four inputs.
 */
function combine(
  out: Float32Array,
  arrays: Float32Array[],
  weights: number[],
  k: number,
  accumulate: boolean,
  start: number,
  end: number,
): void {
  const a = arrays[k]!;
  const wa = weights[k]!;
  switch (Math.min(4, arrays.length - k)) {
    case 1:
      if (accumulate) for (let i = start; i < end; i++) out[i] = out[i]! + a[i]! * wa;
      else for (let i = start; i < end; i++) out[i] = a[i]! * wa;
      return;
    case 2: {
      const b = arrays[k + 1]!;
      const wb = weights[k + 1]!;
      if (accumulate) for (let i = start; i < end; i++) out[i] = out[i]! + a[i]! * wa + b[i]! * wb;
      else for (let i = start; i < end; i++) out[i] = a[i]! * wa + b[i]! * wb;
      return;
    }
    case 3: {
      const b = arrays[k + 1]!;
      const c = arrays[k + 2]!;
      const wb = weights[k + 1]!;
      const wc = weights[k + 2]!;
      if (accumulate) for (let i = start; i < end; i++) out[i] = out[i]! + a[i]! * wa + b[i]! * wb + c[i]! * wc;
      else for (let i = start; i < end; i++) out[i] = a[i]! * wa + b[i]! * wb + c[i]! * wc;
      return;
    }
    default: {
      const b = arrays[k + 1]!;
      const c = arrays[k + 2]!;
      const d = arrays[k + 3]!;
      const wb = weights[k + 1]!;
      const wc = weights[k + 2]!;
      const wd = weights[k + 3]!;
      if (accumulate) {
        for (let i = start; i < end; i++) out[i] = out[i]! + a[i]! * wa + b[i]! * wb + c[i]! * wc + d[i]! * wd;
      } else {
        for (let i = start; i < end; i++) out[i] = a[i]! * wa + b[i]! * wb + c[i]! * wc + d[i]! * wd;
      }
    }
  }
}
