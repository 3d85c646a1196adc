import { CrowdtrainError } from '../../protocol/errors.ts';
import { instantiateAxpy4, type Axpy4 } from '../simd-axpy4.ts';
import { batcherNetwork, pruneNetwork } from './sorting-network.ts';
import { instantiateCompareExchange, type CompareExchangeKernel } from './simd-compare-exchange.ts';

/** Coordinates per block: n rows of 16 KiB stay in L2 while the network runs over them. */
export const SORT_BLOCK = 4096;

/**
 * Called once per block of coordinates `[start, start + length)` with `rows[r][j]`, the value of
 * rank `r` (ascending) among the inputs at coordinate `start + j`. Only the ranks the sorter was
 * built for are reliable; the rows are reused by the next block.
 */
export type SortedBlockVisitor = (rows: readonly Float32Array[], start: number, length: number) => void;

/**
 * Sorts the values of each coordinate across `n` inputs, block by block: the block of every
 * input is copied into a row of one WebAssembly memory and a sorting network (pruned to the
 * ranks asked for) runs over the rows with a SIMD compare-exchange, four coordinates per
 * instruction. Without WebAssembly SIMD (or with `simd: false`) the same network runs in
 * JavaScript. A block in which any input holds a NaN has every rank NaN, so whatever the visitor
 * computes there is NaN and the registry's guard excludes that input as a whole.
 * @example
 * const sorter = new CoordinateSorter(16, [7, 8]);
 * sorter.forEachBlock(arrays, (rows, start, len) => { for (let j = 0; j < len; j++) out[start + j] = (rows[7]![j]! + rows[8]![j]!) / 2; });
 */
export class CoordinateSorter {
  /** Whether the SIMD kernel runs the network. */
  readonly simd: boolean;
  private readonly network: Int32Array;
  private readonly rows: Float32Array[];
  private readonly kernel: CompareExchangeKernel | null;
  private readonly axpy4: Axpy4 | null;
  /** An all-zero row (pads groups of four for axpy4) and the row combinations are written to. */
  private readonly zeroRow: Float32Array;
  private readonly outRow: Float32Array;

  constructor(
    readonly n: number,
    ranks: readonly number[] | 'all',
    opts: { simd?: boolean } = {},
  ) {
    if (!Number.isSafeInteger(n) || n < 1) throw new CrowdtrainError('INTERNAL', `a coordinate sorter needs n >= 1 inputs, got ${n}`);
    const full = batcherNetwork(n);
    this.network = ranks === 'all' ? full : pruneNetwork(full, n, ranks);
    // n input rows, then the zero row and the output row.
    const bytes = (n + 2) * SORT_BLOCK * 4;
    let kernel: CompareExchangeKernel | null = null;
    let axpy4: Axpy4 | null = null;
    let buffer: ArrayBufferLike | null = null;
    if (opts.simd !== false) {
      try {
        const pages = Math.ceil(bytes / 65536);
        const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
        kernel = instantiateCompareExchange(memory);
        axpy4 = instantiateAxpy4(memory);
        buffer = memory.buffer;
      } catch {
        kernel = null;
      }
    }
    if (kernel === null || axpy4 === null) {
      kernel = null;
      axpy4 = null;
      buffer = new ArrayBuffer(bytes);
    }
    this.kernel = kernel;
    this.axpy4 = axpy4;
    this.simd = kernel !== null;
    const rowsBuffer = buffer!;
    const row = (k: number) => new Float32Array(rowsBuffer, k * SORT_BLOCK * 4, SORT_BLOCK);
    this.rows = Array.from({ length: n }, (_, k) => row(k));
    this.zeroRow = row(n);
    this.outRow = row(n + 1);
  }

  /** Comparators the network runs per coordinate. */
  get comparators(): number {
    return this.network.length / 2;
  }

  /** Visits every block of the `n` equally long `arrays`, sorted across inputs per coordinate. */
  forEachBlock(arrays: readonly Float32Array[], visit: SortedBlockVisitor): void {
    if (arrays.length !== this.n) throw new CrowdtrainError('INTERNAL', `coordinate sorter built for ${this.n} inputs, given ${arrays.length}`);
    const d = arrays[0]!.length;
    const { rows, network, kernel } = this;
    for (let start = 0; start < d; start += SORT_BLOCK) {
      const length = Math.min(SORT_BLOCK, d - start);
      for (let k = 0; k < this.n; k++) rows[k]!.set(arrays[k]!.subarray(start, start + length));
      if (kernel !== null ? this.blockHasNaN(kernel, length) : rows.some((row) => row.subarray(0, length).some(Number.isNaN))) {
        for (const row of rows) row.fill(NaN);
      } else if (kernel !== null) {
        const bytes = Math.ceil(length / 4) * 16;
        for (let c = 0; c < network.length; c += 2) kernel.minmax(rows[network[c]!]!.byteOffset, rows[network[c + 1]!]!.byteOffset, bytes);
      } else {
        for (let c = 0; c < network.length; c += 2) compareExchange(rows[network[c]!]!, rows[network[c + 1]!]!, length);
      }
      visit(rows, start, length);
    }
  }

  /**
   * Writes `sum_k weights[k] * rows[ranks[k]]` over the block's first `length` lanes into
   * `out[start, start + length)`: in float32 with the SIMD kernel (as the arena's weighted mean),
   * in float64 in JavaScript. For use inside {@link forEachBlock}'s visitor.
   */
  combineRanks(ranks: readonly number[], weights: readonly number[], out: Float32Array, start: number, length: number): void {
    const { rows, axpy4 } = this;
    if (axpy4 === null) {
      for (let j = 0; j < length; j++) {
        let sum = 0;
        for (let k = 0; k < ranks.length; k++) sum += rows[ranks[k]!]![j]! * weights[k]!;
        out[start + j] = sum;
      }
      return;
    }
    const bytes = Math.ceil(length / 4) * 16;
    const offset = (k: number) => (k < ranks.length ? rows[ranks[k]!]!.byteOffset : this.zeroRow.byteOffset);
    const weight = (k: number) => (k < ranks.length ? weights[k]! : 0);
    for (let k = 0; k < ranks.length; k += 4) {
      axpy4(this.outRow.byteOffset, offset(k), offset(k + 1), offset(k + 2), offset(k + 3), weight(k), weight(k + 1), weight(k + 2), weight(k + 3), bytes, k > 0 ? 1 : 0);
    }
    out.set(this.outRow.subarray(0, length), start);
  }

  /** Whether a row of the block holds a NaN (the lanes past `length` are zeroed first: they may hold an earlier block's values). */
  private blockHasNaN(kernel: CompareExchangeKernel, length: number): boolean {
    const padded = Math.ceil(length / 4) * 4;
    let found = 0;
    for (const row of this.rows) {
      if (padded !== length) row.fill(0, length, padded);
      found |= kernel.hasnan(row.byteOffset, padded * 4);
    }
    return found !== 0;
  }
}

/** The JavaScript compare-exchange: min into `a`, max into `b` (NaN-free rows). */
function compareExchange(a: Float32Array, b: Float32Array, length: number): void {
  for (let i = 0; i < length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (y < x) {
      a[i] = y;
      b[i] = x;
    }
  }
}

/**
 * The sorters of one aggregator, one per input count met so far (rounds of an elastic fleet
 * differ in size), each pruned to the ranks `ranksFor(n)` returns.
 */
export class SorterCache {
  private readonly sorters = new Map<number, CoordinateSorter>();

  constructor(
    private readonly ranksFor: (n: number) => readonly number[] | 'all',
    private readonly opts: { simd?: boolean } = {},
  ) {}

  /** The sorter for `n` inputs. */
  get(n: number): CoordinateSorter {
    let sorter = this.sorters.get(n);
    if (!sorter) {
      sorter = new CoordinateSorter(n, this.ranksFor(n), this.opts);
      this.sorters.set(n, sorter);
    }
    return sorter;
  }
}
