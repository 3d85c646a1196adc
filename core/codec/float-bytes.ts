import { CrowdtrainError } from '../protocol/errors.ts';

/**
 * The bytes of a Float32Array as a Uint8Array **view** (no copy; platform byte order,
 * little-endian on every supported target). Mutating either mutates both.
 * @example socket.emit('grad', float32ToBytes(grads));
 */
export function float32ToBytes(arr: Float32Array): Uint8Array {
  return new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
}

/**
 * Reads float32 values from bytes. A view when the bytes are 4-byte aligned, otherwise a copy
 * (Node Buffers delivered by socket.io often sit at odd offsets in a shared pool).
 * Throws SHAPE_MISMATCH when the byte length is not a multiple of 4.
 * @example const grads = bytesToFloat32(payload); // payload: Buffer | Uint8Array | ArrayBuffer
 */
export function bytesToFloat32(bytes: Uint8Array | ArrayBuffer): Float32Array {
  if (bytes.byteLength % 4 !== 0) {
    throw new CrowdtrainError('SHAPE_MISMATCH', `float32 payload has ${bytes.byteLength} bytes, not a multiple of 4`);
  }
  if (bytes instanceof ArrayBuffer) return new Float32Array(bytes);
  if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Float32Array(copy.buffer);
}

/**
 * Index of the first NaN or ±Infinity in a float32 array, or -1. Looks at the bits (exponent all
 * ones) through a Uint32 view: one pass, no float64 conversion.
 * @example firstNonFinite(Float32Array.of(1, NaN)) // 1
 */
export function firstNonFinite(a: Float32Array): number {
  const bits = new Uint32Array(a.buffer, a.byteOffset, a.length);
  for (let i = 0; i < bits.length; i++) {
    if (((bits[i] as number) & 0x7f800000) === 0x7f800000) return i;
  }
  return -1;
}
