import { CrowdtrainError } from '../protocol/errors.ts';

/**
 * Splits bytes into consecutive chunks of at most `maxChunkBytes` (views, no copies).
 * Always returns at least one chunk (an empty payload is one empty chunk).
 * @example const chunks = splitIntoChunks(float32ToBytes(grads), 512 * 1024);
 */
export function splitIntoChunks(bytes: Uint8Array, maxChunkBytes: number): Uint8Array[] {
  if (!Number.isSafeInteger(maxChunkBytes) || maxChunkBytes <= 0) {
    throw new CrowdtrainError('INVALID_CONFIG', `max chunk bytes ${maxChunkBytes} must be a positive integer`);
  }
  if (bytes.byteLength === 0) return [bytes.subarray(0, 0)];
  const chunks: Uint8Array[] = [];
  for (let start = 0; start < bytes.byteLength; start += maxChunkBytes) {
    chunks.push(bytes.subarray(start, Math.min(start + maxChunkBytes, bytes.byteLength)));
  }
  return chunks;
}

/** Limits a receiver puts on what a sender may announce. */
export interface ChunkAssemblerLimits {
  /** Refuse (OVERSIZED) an announced total above this many bytes. */
  maxTotalBytes?: number;
}

/**
 * Reassembles the chunks of one payload, in any arrival order, into one contiguous Uint8Array.
 * Chunk `i` holds the bytes that follow chunk `i-1` (as produced by {@link splitIntoChunks}).
 * Rejects out-of-range or duplicate indices (INVALID_MESSAGE), bytes beyond the announced
 * total (OVERSIZED) and a complete set whose sizes do not add up to the total (SHAPE_MISMATCH).
 * Chunks are held by reference: {@link ChunkAssembler.copyInto} and a multi-chunk
 * {@link ChunkAssembler.result} copy them, a single-chunk result IS the chunk. The caller must not
 * reuse a chunk's buffer while the assembler or a single-chunk result is in use.
 * @example
 * const asm = new ChunkAssembler(totalBytes, chunkCount);
 * asm.add(0, chunk0); asm.add(1, chunk1);
 * if (asm.complete) grads = bytesToFloat32(asm.result());
 */
export class ChunkAssembler {
  readonly totalBytes: number;
  readonly chunkCount: number;
  private readonly chunks: (Uint8Array | undefined)[];
  private receivedBytes = 0;
  private receivedCount = 0;

  constructor(totalBytes: number, chunkCount: number, limits: ChunkAssemblerLimits = {}) {
    if (!Number.isSafeInteger(totalBytes) || totalBytes < 0) {
      throw new CrowdtrainError('INVALID_MESSAGE', `total bytes ${totalBytes} must be a non-negative integer`);
    }
    if (limits.maxTotalBytes !== undefined && totalBytes > limits.maxTotalBytes) {
      throw new CrowdtrainError('OVERSIZED', `payload of ${totalBytes} bytes exceeds the limit of ${limits.maxTotalBytes}`);
    }
    if (!Number.isSafeInteger(chunkCount) || chunkCount < 1 || chunkCount > Math.max(1, totalBytes)) {
      throw new CrowdtrainError(
        'INVALID_MESSAGE',
        `chunk count ${chunkCount} must be an integer in [1, ${Math.max(1, totalBytes)}] for ${totalBytes} bytes`,
      );
    }
    this.totalBytes = totalBytes;
    this.chunkCount = chunkCount;
    this.chunks = new Array<Uint8Array | undefined>(chunkCount).fill(undefined);
  }

  /** Stores chunk `index` (by reference); throws on a bad index, a duplicate, or an overflow. */
  add(index: number, bytes: Uint8Array): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.chunkCount) {
      throw new CrowdtrainError('INVALID_MESSAGE', `chunk index ${index} out of range [0, ${this.chunkCount - 1}]`);
    }
    if (this.chunks[index] !== undefined) {
      throw new CrowdtrainError('INVALID_MESSAGE', `chunk ${index} of ${this.chunkCount} received twice`);
    }
    if (this.receivedBytes + bytes.byteLength > this.totalBytes) {
      throw new CrowdtrainError(
        'OVERSIZED',
        `chunk ${index} of ${bytes.byteLength} bytes overflows the payload: ${this.receivedBytes + bytes.byteLength} > ${this.totalBytes} bytes`,
      );
    }
    if (this.receivedCount + 1 === this.chunkCount && this.receivedBytes + bytes.byteLength !== this.totalBytes) {
      throw new CrowdtrainError(
        'SHAPE_MISMATCH',
        `chunks add up to ${this.receivedBytes + bytes.byteLength} bytes, expected ${this.totalBytes}`,
      );
    }
    this.chunks[index] = bytes;
    this.receivedBytes += bytes.byteLength;
    this.receivedCount += 1;
  }

  /** True once every chunk has arrived (and the sizes added up). */
  get complete(): boolean {
    return this.receivedCount === this.chunkCount;
  }

  /**
   * The payload, in index order; throws INVALID_MESSAGE naming the missing chunks if incomplete.
   * A single-chunk payload is that chunk itself (no copy): it shares memory with what `add` got.
   */
  result(): Uint8Array {
    this.assertComplete();
    const only = this.chunkCount === 1 ? this.chunks[0] : undefined;
    if (only !== undefined) return only;
    const out = new Uint8Array(this.totalBytes);
    this.copyInto(out);
    return out;
  }

  /** Writes the payload, in index order, into `target` (at least `totalBytes` long) without an intermediate copy. */
  copyInto(target: Uint8Array): void {
    this.assertComplete();
    if (target.byteLength < this.totalBytes) {
      throw new CrowdtrainError('INTERNAL', `target of ${target.byteLength} bytes is too small for a payload of ${this.totalBytes}`);
    }
    let offset = 0;
    for (const c of this.chunks) {
      if (c === undefined) continue;
      target.set(c, offset);
      offset += c.byteLength;
    }
  }

  private assertComplete(): void {
    if (!this.complete) {
      const missing = this.chunks.flatMap((c, i) => (c === undefined ? [i] : []));
      throw new CrowdtrainError(
        'INVALID_MESSAGE',
        `payload incomplete: missing chunk(s) ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', ...' : ''} of ${this.chunkCount}`,
      );
    }
  }
}
