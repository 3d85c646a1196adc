import { CrowdtrainError } from '../protocol/errors.ts';
import { instantiateAxpy4, type Axpy4 } from './simd-axpy4.ts';

/**
 * Fixed, preallocated vectors in one WebAssembly memory: the receive buffers for workers'
 * updates plus the output. When every input and the output of `reduceWeightedMean` are slots of
 * one arena, it reduces them with a WebAssembly SIMD kernel in place (no copies); any other
 * arrays take the plain JavaScript path. The memory never grows, so slot views stay valid.
 */
export interface ReduceArena {
  /** Values per vector. */
  readonly length: number;
  /** Number of input slots. */
  readonly slots: number;
  /** Whether the SIMD kernel is available (false: an ordinary ArrayBuffer, JS reduction). */
  readonly simd: boolean;
  /** The output vector. */
  readonly out: Float32Array;
  /** Input slot `index` (0 <= index < slots), e.g. where worker `index`'s gradient is decoded. */
  slot(index: number): Float32Array;
}

/** What reduceWeightedMean needs to run the SIMD path on an arena. */
export interface ArenaKernel {
  axpy4: Axpy4;
  /** Bytes between slot starts (a multiple of 16, padded past `length`). */
  slotBytes: number;
  length: number;
  /** Byte offset of an all-zero slot used to pad groups of four. */
  zeroOffset: number;
}

const kernels = new WeakMap<ArrayBufferLike, ArenaKernel>();

/** The SIMD kernel of the arena owning `buffer`, if any. */
export function arenaKernelOf(buffer: ArrayBufferLike): ArenaKernel | undefined {
  return kernels.get(buffer);
}

const PAGE = 65536;
const MAX_PAGES = 65536;
/** The largest arena: one WebAssembly memory (4 GiB). */
export const MAX_ARENA_BYTES = PAGE * MAX_PAGES;

/** Bytes one `length`-float vector takes in an arena (16-byte aligned); an arena of n slots takes n + 2 of them. */
export function arenaSlotBytes(length: number): number {
  return Math.ceil(length / 4) * 16;
}

/**
 * Allocates an arena of `slots` input vectors and one output vector of `length` floats each.
 * @example
 * const arena = createReduceArena(layout.size, maxWorkers);
 * decodeInto(arena.slot(0), chunk); // ... one slot per worker
 * reduceWeightedMean([{ values: arena.slot(0), weight: 64 }, { values: arena.slot(1), weight: 32 }], arena.out);
 */
export function createReduceArena(length: number, slots: number): ReduceArena {
  if (!Number.isSafeInteger(length) || length < 1 || !Number.isSafeInteger(slots) || slots < 1) {
    throw new CrowdtrainError('INVALID_CONFIG', `reduce arena of ${slots} slots x ${length} values: both must be integers >= 1`);
  }
  const slotBytes = arenaSlotBytes(length);
  const totalBytes = slotBytes * (slots + 2); // inputs, output, zero slot
  const pages = Math.ceil(totalBytes / PAGE);
  if (pages > MAX_PAGES) {
    throw new CrowdtrainError('INVALID_CONFIG', `reduce arena needs ${totalBytes} bytes, more than the 4 GiB of one WebAssembly memory`);
  }
  let buffer: ArrayBufferLike;
  let axpy4: Axpy4 | null = null;
  try {
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    axpy4 = instantiateAxpy4(memory);
    buffer = memory.buffer;
  } catch {
    axpy4 = null;
    buffer = new ArrayBuffer(totalBytes);
  }
  if (axpy4 === null) buffer = buffer.byteLength >= totalBytes ? buffer : new ArrayBuffer(totalBytes);
  const views = Array.from({ length: slots + 1 }, (_, i) => new Float32Array(buffer, i * slotBytes, length));
  if (axpy4 !== null) kernels.set(buffer, { axpy4, slotBytes, length, zeroOffset: (slots + 1) * slotBytes });
  return {
    length,
    slots,
    simd: axpy4 !== null,
    out: views[slots]!,
    slot(index: number): Float32Array {
      const view = Number.isInteger(index) && index >= 0 && index < slots ? views[index] : undefined;
      if (view === undefined) throw new CrowdtrainError('INVALID_CONFIG', `arena slot ${index} does not exist (0..${slots - 1})`);
      return view;
    },
  };
}
