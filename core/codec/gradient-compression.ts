/**
 * Lossy 16-bit encodings of a gradient on the wire (PyTorch DDP's fp16/bf16 compress hooks,
 * Horovod's fp16 compression): a worker sends half the bytes, the coordinator decodes to float32
 * before validation and the reduce. Master parameters and optimizer state stay float32.
 *
 * - `fp16` (IEEE binary16): 11 significant bits (relative rounding error <= 2^-11 for magnitudes
 *   from 2^-14 to 65504; absolute error <= 2^-25 below 2^-14, where values lose precision and
 *   flush to zero under 2^-25). Beyond the range a value overflows to +-Infinity, as IEEE rounding
 *   does, so the coordinator rejects the update as NON_FINITE (use bf16 for such gradients).
 * - `bf16` (bfloat16): float32's range, 8 significant bits (relative error <= 2^-8).
 * Both round to nearest, ties to even; NaN and +-Infinity survive, so update validation still
 * rejects a broken gradient. Byte order is the platform's, like the float32 payloads.
 */
import { CrowdtrainError } from '../protocol/errors.ts';
import { GRADIENT_COMPRESSIONS, type GradientCompression } from '../protocol/gradient-compressions.ts';

/** The gradient encodings (defined by the wire protocol, core/protocol), re-exported for existing importers. */
export { GRADIENT_COMPRESSIONS, type GradientCompression };

/** Bytes per gradient value on the wire. */
export function bytesPerGradientValue(c: GradientCompression): number {
  return c === 'none' ? 4 : 2;
}

/** Largest finite binary16 value. */
export const FLOAT16_MAX = 65504;

/**
 * float32 -> binary16 bits, round to nearest even; beyond +-65504 (after rounding) +-Infinity.
 * @example encodeFloat16(new Float32Array([1, -2.5]))[0]; // 0x3c00
 */
export function encodeFloat16(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  if (out.length < src.length) throw new CrowdtrainError('INTERNAL', `fp16 output of ${out.length} values is too small for ${src.length}`);
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) {
    const f = bits[i]!;
    const sign = (f >>> 16) & 0x8000;
    const exp = (f >>> 23) & 0xff;
    const mant = f & 0x7fffff;
    let h: number;
    if (exp === 0xff) {
      h = sign | 0x7c00 | (mant !== 0 ? 0x200 : 0); // Inf, or a quiet NaN
    } else {
      const e = exp - 112; // binary16 biased exponent
      if (e >= 0x1f) {
        h = sign | 0x7c00;
      } else if (e > 0) {
        h = (e << 10) | (mant >>> 13);
        const rest = mant & 0x1fff;
        // May carry into the exponent, up to 0x7c00 (Infinity) just above 65504: IEEE overflow.
        if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h += 1;
        h = sign | h;
      } else if (e >= -10) {
        // Subnormal: value = m * 2^(exp - 150) = hm * 2^-24.
        const m = mant | 0x800000;
        const shift = 14 - e;
        let hm = m >>> shift;
        const rest = m & ((1 << shift) - 1);
        const half = 1 << (shift - 1);
        if (rest > half || (rest === half && (hm & 1) === 1)) hm += 1;
        h = sign | hm;
      } else {
        h = sign;
      }
    }
    out[i] = h;
  }
  return out;
}

let float16Table: Float32Array | null = null;

/** All 65536 binary16 values as float32 (built once). */
function float16ToFloat32Table(): Float32Array {
  if (float16Table) return float16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >>> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) t[h] = sign * m * 2 ** -24;
    else if (e === 0x1f) t[h] = m === 0 ? sign * Infinity : Number.NaN;
    else t[h] = sign * (1 + m / 1024) * 2 ** (e - 15);
  }
  float16Table = t;
  return t;
}

/** binary16 bits -> float32 (exact). */
export function decodeFloat16(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  if (out.length < src.length) throw new CrowdtrainError('INTERNAL', `float32 output of ${out.length} values is too small for ${src.length}`);
  const t = float16ToFloat32Table();
  for (let i = 0; i < src.length; i++) out[i] = t[src[i]!]!;
  return out;
}

/** float32 -> bfloat16 bits (the top 16 bits), round to nearest even; NaN stays NaN. */
export function encodeBfloat16(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  if (out.length < src.length) throw new CrowdtrainError('INTERNAL', `bf16 output of ${out.length} values is too small for ${src.length}`);
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) {
    const f = bits[i]!;
    if ((f & 0x7f800000) === 0x7f800000 && (f & 0x7fffff) !== 0) {
      out[i] = ((f >>> 16) & 0x8000) | 0x7fc0;
    } else {
      // Round the magnitude (no carry can reach the sign bit), then put the sign back.
      out[i] = ((f >>> 16) & 0x8000) | (((f & 0x7fffffff) + 0x7fff + ((f >>> 16) & 1)) >>> 16);
    }
  }
  return out;
}

/** bfloat16 bits -> float32 (exact). */
export function decodeBfloat16(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  if (out.length < src.length) throw new CrowdtrainError('INTERNAL', `float32 output of ${out.length} values is too small for ${src.length}`);
  const bits = new Uint32Array(out.buffer, out.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
  return out;
}

/**
 * A gradient as the bytes a worker sends. `none` is a view of `grads` (no copy).
 * @example const bytes = encodeGradient(grads, 'fp16'); // bytes.byteLength === grads.length * 2
 */
export function encodeGradient(grads: Float32Array, c: GradientCompression): Uint8Array {
  if (c === 'none') return new Uint8Array(grads.buffer, grads.byteOffset, grads.byteLength);
  const half = c === 'fp16' ? encodeFloat16(grads) : encodeBfloat16(grads);
  return new Uint8Array(half.buffer, half.byteOffset, half.byteLength);
}

/**
 * Decodes the bytes of an encoded gradient into `out` (float32, `out.length` values). Throws
 * SHAPE_MISMATCH when the byte count does not match.
 */
export function decodeGradientInto(bytes: Uint8Array, c: GradientCompression, out: Float32Array): Float32Array {
  const expected = out.length * bytesPerGradientValue(c);
  if (bytes.byteLength !== expected) {
    throw new CrowdtrainError('SHAPE_MISMATCH', `${c} gradient has ${bytes.byteLength} bytes, expected ${expected} for ${out.length} values`);
  }
  if (c === 'none') {
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes);
    return out;
  }
  // Uint16Array needs 2-byte alignment; a view of a socket buffer may not have it. (A Node Buffer's
  // slice() is a view, not a copy, so copy explicitly.)
  let aligned = bytes;
  if (bytes.byteOffset % 2 !== 0) {
    aligned = new Uint8Array(bytes.byteLength);
    aligned.set(bytes);
  }
  const half = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
  return c === 'fp16' ? decodeFloat16(half, out) : decodeBfloat16(half, out);
}
