import { describe, it, expect } from 'vitest';
import { ChunkAssembler, splitIntoChunks } from '../../../core/codec/chunking.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';
import type { ErrorCode } from '../../../core/protocol/errors.ts';

function bytesOf(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) % 256);
}

function codeOf(fn: () => unknown): ErrorCode | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof CrowdtrainError) return e.code;
    throw e;
  }
  return undefined;
}

describe('splitIntoChunks', () => {
  it('splits into views of at most maxChunkBytes covering every byte', () => {
    const bytes = bytesOf(10);
    const chunks = splitIntoChunks(bytes, 4);
    expect(chunks.map((c) => c.byteLength)).toEqual([4, 4, 2]);
    for (const c of chunks) expect(c.buffer).toBe(bytes.buffer);
    expect(chunks[2]?.byteOffset).toBe(8);
  });

  it('gives one chunk when the payload fits and one empty chunk for an empty payload', () => {
    expect(splitIntoChunks(bytesOf(4), 4)).toHaveLength(1);
    const empty = splitIntoChunks(new Uint8Array(0), 4);
    expect(empty.map((c) => c.byteLength)).toEqual([0]);
  });

  it('rejects a non-positive or fractional chunk size', () => {
    expect(codeOf(() => splitIntoChunks(bytesOf(4), 0))).toBe('INVALID_CONFIG');
    expect(codeOf(() => splitIntoChunks(bytesOf(4), 1.5))).toBe('INVALID_CONFIG');
  });
});

describe('ChunkAssembler', () => {
  it('reassembles chunks arriving in any order', () => {
    const bytes = bytesOf(1000);
    const chunks = splitIntoChunks(bytes, 128);
    const asm = new ChunkAssembler(bytes.byteLength, chunks.length);
    const order = chunks.map((_, i) => i).reverse();
    order.push(...order.splice(0, 3)); // rotate too
    for (const i of order) {
      expect(asm.complete).toBe(false);
      asm.add(i, chunks[i] ?? new Uint8Array(0));
    }
    expect(asm.complete).toBe(true);
    expect(asm.result()).toEqual(bytes);
  });

  it('handles a single empty chunk for an empty payload', () => {
    const asm = new ChunkAssembler(0, 1);
    asm.add(0, new Uint8Array(0));
    expect(asm.complete).toBe(true);
    expect(asm.result().byteLength).toBe(0);
  });

  it('rejects out-of-range and fractional indices with INVALID_MESSAGE', () => {
    const asm = new ChunkAssembler(8, 2);
    expect(codeOf(() => asm.add(2, bytesOf(4)))).toBe('INVALID_MESSAGE');
    expect(codeOf(() => asm.add(-1, bytesOf(4)))).toBe('INVALID_MESSAGE');
    expect(codeOf(() => asm.add(0.5, bytesOf(4)))).toBe('INVALID_MESSAGE');
    expect(() => asm.add(2, bytesOf(4))).toThrow(/chunk index 2 out of range \[0, 1\]/);
  });

  it('rejects a duplicate chunk with INVALID_MESSAGE and keeps the first', () => {
    const asm = new ChunkAssembler(8, 2);
    asm.add(0, bytesOf(4));
    expect(codeOf(() => asm.add(0, new Uint8Array(4)))).toBe('INVALID_MESSAGE');
    asm.add(1, bytesOf(4));
    expect(Array.from(asm.result().subarray(0, 4))).toEqual(Array.from(bytesOf(4)));
  });

  it('rejects a chunk that overflows the announced total with OVERSIZED', () => {
    const asm = new ChunkAssembler(8, 3);
    asm.add(0, bytesOf(6));
    expect(codeOf(() => asm.add(1, bytesOf(3)))).toBe('OVERSIZED');
    expect(() => asm.add(1, bytesOf(3))).toThrow(/9 > 8 bytes/);
  });

  it('rejects a complete set that falls short of the total with SHAPE_MISMATCH', () => {
    const asm = new ChunkAssembler(8, 2);
    asm.add(1, bytesOf(4));
    expect(codeOf(() => asm.add(0, bytesOf(3)))).toBe('SHAPE_MISMATCH');
    expect(asm.complete).toBe(false);
    expect(codeOf(() => asm.result())).toBe('INVALID_MESSAGE');
    expect(() => asm.result()).toThrow(/missing chunk\(s\) 0 of 2/);
  });

  it('returns a single-chunk payload without copying it', () => {
    const bytes = bytesOf(64);
    const asm = new ChunkAssembler(64, 1);
    asm.add(0, bytes);
    expect(asm.result()).toBe(bytes);
  });

  it('copies a multi-chunk payload into a caller-owned target in index order', () => {
    const bytes = bytesOf(1000);
    const chunks = splitIntoChunks(bytes, 300);
    const asm = new ChunkAssembler(bytes.byteLength, chunks.length);
    [...chunks.keys()].reverse().forEach((i) => asm.add(i, chunks[i]!));
    const target = new Uint8Array(1008).fill(0xff);
    asm.copyInto(target);
    expect(target.subarray(0, 1000)).toEqual(bytes);
    expect(Array.from(target.subarray(1000))).toEqual(new Array<number>(8).fill(0xff));
  });

  it('refuses to copy an incomplete payload or into a target that is too small', () => {
    const asm = new ChunkAssembler(8, 2);
    asm.add(1, bytesOf(4));
    expect(codeOf(() => asm.copyInto(new Uint8Array(8)))).toBe('INVALID_MESSAGE');
    asm.add(0, bytesOf(4));
    expect(codeOf(() => asm.copyInto(new Uint8Array(7)))).toBe('INTERNAL');
    const target = new Uint8Array(8);
    asm.copyInto(target);
    expect(Array.from(target)).toEqual([...bytesOf(4), ...bytesOf(4)]);
  });

  it('rejects impossible announcements', () => {
    expect(codeOf(() => new ChunkAssembler(-1, 1))).toBe('INVALID_MESSAGE');
    expect(codeOf(() => new ChunkAssembler(8, 0))).toBe('INVALID_MESSAGE');
    expect(codeOf(() => new ChunkAssembler(8, 9))).toBe('INVALID_MESSAGE');
    expect(codeOf(() => new ChunkAssembler(Number.NaN, 1))).toBe('INVALID_MESSAGE');
    expect(codeOf(() => new ChunkAssembler(1 << 30, 1, { maxTotalBytes: 1 << 20 }))).toBe('OVERSIZED');
    expect(codeOf(() => new ChunkAssembler(1 << 20, 1, { maxTotalBytes: 1 << 20 }))).toBeUndefined();
  });
});
