import { describe, expect, it } from 'vitest';
import { UpdateInbox } from '../../../coordinator/run/update-inbox.ts';
import { splitIntoChunks } from '../../../core/codec/chunking.ts';
import { encodeGradient, type GradientCompression } from '../../../core/codec/gradient-compression.ts';
import type { GradCommit } from '../../../core/protocol/messages.ts';

const RUN = 'run-1';

function inbox(paramCount: number, compression: GradientCompression = 'none', maxUpdateNorm = 1e6): UpdateInbox {
  const box = new UpdateInbox({ runId: RUN, paramCount, compression, maxUpdateNorm });
  box.beginRound(2);
  return box;
}

/** Sends `values` as the wire does: encoded, in chunks of `chunkBytes`. */
function send(box: UpdateInbox, workerId: string, step: number, values: Float32Array, compression: GradientCompression = 'none', chunkBytes = 1 << 20): number {
  const bytes = encodeGradient(values, compression);
  const chunks = splitIntoChunks(bytes, chunkBytes);
  let got = 0;
  chunks.forEach((c, index) => (got += box.receiveChunk(workerId, { runId: RUN, step, index, count: chunks.length, totalBytes: bytes.byteLength, bytes: c })));
  return got;
}

function commit(step: number, sampleCount: number, over: Partial<GradCommit> = {}): GradCommit {
  return { runId: RUN, step, paramsVersion: step, sampleCount, loss: 1, accuracy: 0.5, computeMs: 3, ...over };
}

const round = (slice: number[] | undefined, step = 0, collecting = true) => ({ step, collecting, slice });

describe('UpdateInbox', () => {
  it('assembles a multi-chunk result out of order into an arena slot and keeps it for the round', () => {
    const box = inbox(1000);
    const values = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i));
    const bytes = encodeGradient(values, 'none');
    const chunks = splitIntoChunks(bytes, 1024);
    expect(chunks.length).toBe(4);
    for (const index of [3, 1, 0, 2]) box.receiveChunk('a', { runId: RUN, step: 0, index, count: 4, totalBytes: bytes.byteLength, bytes: chunks[index] });
    expect(box.bytesThisRound).toBe(4000);
    const got = box.accept('a', commit(0, 2), round([4, 5]));
    expect(got.bytes).toBe(4000);
    expect(Array.from(got.values)).toEqual(Array.from(values));
    expect(box.resultOf('a')).toBe(got.values);
    expect(box.scratch?.length).toBe(1000);
  });

  it('decodes 16-bit results and names the compression when the size is wrong', () => {
    const box = inbox(8, 'bf16');
    send(box, 'a', 0, new Float32Array(8).fill(0.5), 'bf16');
    expect(Array.from(box.accept('a', commit(0, 1), round([1])).values)).toEqual(new Array(8).fill(0.5));
    send(box, 'b', 0, new Float32Array(8).fill(0.5), 'none');
    expect(() => box.accept('b', commit(0, 1), round([2]))).toThrow(/gradient has 32 bytes, expected 16 \(8 values, gradient_compression bf16\)/);
  });

  it('refuses what is not assigned, stale, duplicate, short, incomplete, non-finite or too large', () => {
    const box = inbox(4, 'none', 10);
    const ok = new Float32Array([1, 2, 3, 4]);
    send(box, 'a', 0, ok);
    expect(() => box.accept('a', commit(0, 1), round(undefined))).toThrow(expect.objectContaining({ code: 'NOT_ASSIGNED' }));
    send(box, 'a', 0, ok);
    expect(() => box.accept('a', commit(0, 1), round([1], 3))).toThrow(expect.objectContaining({ code: 'STALE_UPDATE' }));
    send(box, 'a', 0, ok);
    expect(() => box.accept('a', commit(0, 2), round([1]))).toThrow(/update claims 2 samples, the slice has 1/);
    send(box, 'a', 0, ok);
    box.accept('a', commit(0, 1), round([1]));
    send(box, 'a', 0, ok);
    expect(() => box.accept('a', commit(0, 1), round([1]))).toThrow(expect.objectContaining({ code: 'DUPLICATE_UPDATE' }));
    expect(() => box.accept('b', commit(0, 1), round([2]))).toThrow(/no gradient chunks received for step 0/);
    const bytes = encodeGradient(ok, 'none');
    box.receiveChunk('b', { runId: RUN, step: 0, index: 0, count: 2, totalBytes: 16, bytes: bytes.subarray(0, 8) });
    expect(() => box.accept('b', commit(0, 1), round([2]))).toThrow(/incomplete/);
    send(box, 'b', 0, new Float32Array([1, Number.NaN, 0, 0]));
    expect(() => box.accept('b', commit(0, 1), round([2]))).toThrow(expect.objectContaining({ code: 'NON_FINITE' }));
    send(box, 'b', 0, new Float32Array([100, 0, 0, 0]));
    expect(() => box.accept('b', commit(0, 1), round([2]))).toThrow(expect.objectContaining({ code: 'NORM_TOO_LARGE' }));
    send(box, 'b', 0, ok);
    expect(() => box.accept('b', commit(0, 1, { loss: Number.POSITIVE_INFINITY }), round([2]))).toThrow(/reported loss is Infinity/);
  });

  it('a malformed chunk poisons that worker\'s result; the commit reports why', () => {
    const box = inbox(4);
    box.receiveChunk('a', { runId: RUN, step: 0, index: 'x' });
    expect(() => box.accept('a', commit(0, 1), round([1]))).toThrow(/grad:chunk: .*index/);
    expect(box.receiveChunk('a', { runId: 'other-run', step: 0, index: 0, count: 1, totalBytes: 16, bytes: new Uint8Array(16) })).toBe(0);
  });

  it('a new round forgets the last one; drop forgets one worker', () => {
    const box = inbox(4);
    send(box, 'a', 0, new Float32Array(4));
    box.accept('a', commit(0, 1), round([1]));
    box.drop('a');
    expect(box.resultOf('a')).toBeUndefined();
    send(box, 'b', 0, new Float32Array(4));
    box.accept('b', commit(0, 1), round([2]));
    box.beginRound(2);
    expect(box.resultOf('b')).toBeUndefined();
    expect(box.bytesThisRound).toBe(0);
  });
});
