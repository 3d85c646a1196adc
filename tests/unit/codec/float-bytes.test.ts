import { describe, it, expect } from 'vitest';
import { bytesToFloat32, float32ToBytes } from '../../../core/codec/float-bytes.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';

describe('float32ToBytes / bytesToFloat32', () => {
  it('float32ToBytes is a view of the same memory', () => {
    const arr = new Float32Array([1.5, -2, 3.25]);
    const bytes = float32ToBytes(arr);
    expect(bytes.byteLength).toBe(12);
    expect(bytes.buffer).toBe(arr.buffer);
    arr[0] = 7;
    expect(bytesToFloat32(bytes)[0]).toBe(7);
  });

  it('respects a subarray offset', () => {
    const arr = new Float32Array([1, 2, 3, 4]).subarray(1, 3);
    expect(Array.from(bytesToFloat32(float32ToBytes(arr)))).toEqual([2, 3]);
  });

  it('round-trips through an ArrayBuffer', () => {
    const arr = new Float32Array([0.1, Number.NEGATIVE_INFINITY, 1e-38]);
    const copy = float32ToBytes(arr).slice().buffer;
    expect(Array.from(bytesToFloat32(copy))).toEqual(Array.from(arr));
  });

  it('copies unaligned bytes (like a pooled Node Buffer at an odd offset)', () => {
    const src = new Float32Array([3.5, -1, 42]);
    const backing = new Uint8Array(1 + 12);
    backing.set(float32ToBytes(src), 1);
    const unaligned = backing.subarray(1);
    expect(unaligned.byteOffset % 4).toBe(1);
    const out = bytesToFloat32(unaligned);
    expect(Array.from(out)).toEqual([3.5, -1, 42]);
    expect(out.buffer).not.toBe(backing.buffer);
  });

  it('reads a Node Buffer', () => {
    const buf = Buffer.from(float32ToBytes(new Float32Array([9, 8])));
    expect(Array.from(bytesToFloat32(buf))).toEqual([9, 8]);
  });

  it('rejects a length that is not a multiple of 4 with SHAPE_MISMATCH naming the length', () => {
    let err: unknown;
    try {
      bytesToFloat32(new Uint8Array(10));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CrowdtrainError);
    expect((err as CrowdtrainError).code).toBe('SHAPE_MISMATCH');
    expect((err as CrowdtrainError).message).toContain('10 bytes');
    expect(() => bytesToFloat32(new ArrayBuffer(7))).toThrow(/7 bytes/);
  });
});
