import { describe, expect, it } from 'vitest';
import {
  bytesPerGradientValue,
  decodeBfloat16,
  decodeFloat16,
  decodeGradientInto,
  encodeBfloat16,
  encodeFloat16,
  encodeGradient,
  FLOAT16_MAX,
} from '../../../core/codec/gradient-compression.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';
import { SeededRandom } from '../../../core/data/seeded-random.ts';

const f32 = (xs: number[]) => new Float32Array(xs);
const hex = (u: Uint16Array) => Array.from(u, (h) => h.toString(16).padStart(4, '0'));

describe('fp16', () => {
  it('encodes known values bit-exactly (IEEE binary16)', () => {
    const src = f32([0, -0, 1, -2, 0.5, 65504, 2 ** -14, 2 ** -24, 0.1, Infinity, -Infinity]);
    expect(hex(encodeFloat16(src))).toEqual(['0000', '8000', '3c00', 'c000', '3800', '7bff', '0400', '0001', '2e66', '7c00', 'fc00']);
  });

  it('rounds to nearest, ties to even, in the normal and the subnormal range', () => {
    // 1 + 2^-11 is halfway between 1 and the next binary16 (1 + 2^-10): ties to even (1).
    // 1 + 3 * 2^-11 is halfway between 1 + 2^-10 and 1 + 2^-9: ties to even (1 + 2^-9).
    const src = f32([1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -11 + 2 ** -20, 2 ** -25, 3 * 2 ** -25, 2 ** -26]);
    expect(hex(encodeFloat16(src))).toEqual(['3c00', '3c02', '3c01', '0000', '0002', '0000']);
  });

  it('overflows to +-Infinity beyond 65504 after rounding (so validation rejects it), and keeps NaN and infinities', () => {
    const out = decodeFloat16(encodeFloat16(f32([1e6, -70000, 65519, 65520, NaN])));
    // 65519 rounds down to 65504; 65520 is the tie between 65504 and 65536, which rounds to even: overflow.
    expect(Array.from(out.subarray(0, 4))).toEqual([Infinity, -Infinity, FLOAT16_MAX, Infinity]);
    expect(out[4]).toBeNaN();
    expect(Array.from(decodeFloat16(encodeFloat16(f32([Infinity, -Infinity]))))).toEqual([Infinity, -Infinity]);
  });

  it('round-trips every binary16 value exactly, and random gradients within 2^-11 relative', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = encodeFloat16(decodeFloat16(all));
    for (let h = 0; h < 65536; h++) {
      const isNaN16 = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (!isNaN16) expect(back[h], `0x${h.toString(16)}`).toBe(h);
    }
    const rng = new SeededRandom(1);
    const g = new Float32Array(10_000).map(() => rng.normal() * 10 ** (rng.next() * 6 - 5));
    const r = decodeFloat16(encodeFloat16(g));
    for (let i = 0; i < g.length; i++) {
      if (Math.abs(g[i]!) >= 2 ** -14) expect(Math.abs(r[i]! - g[i]!)).toBeLessThanOrEqual(Math.abs(g[i]!) * 2 ** -11);
      else expect(Math.abs(r[i]! - g[i]!)).toBeLessThanOrEqual(2 ** -25);
    }
  });
});

describe('bf16', () => {
  it('keeps the top 16 bits, rounding to nearest even, across float32 range', () => {
    const src = f32([1, -2, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, 3e38, -3.4028234663852886e38, 1e-40, Infinity]);
    expect(hex(encodeBfloat16(src))).toEqual(['3f80', 'c000', '3f80', '3f82', '3f81', '7f62', 'ff80', '0001', '7f80']);
    const nan = decodeBfloat16(encodeBfloat16(f32([NaN, -NaN])));
    expect(nan[0]).toBeNaN();
    expect(nan[1]).toBeNaN();
  });

  it('round-trips random gradients within 2^-8 relative', () => {
    const rng = new SeededRandom(2);
    const g = new Float32Array(10_000).map(() => rng.normal() * 10 ** (rng.next() * 20 - 10));
    const r = decodeBfloat16(encodeBfloat16(g));
    for (let i = 0; i < g.length; i++) expect(Math.abs(r[i]! - g[i]!)).toBeLessThanOrEqual(Math.abs(g[i]!) * 2 ** -8);
  });
});

describe('encodeGradient / decodeGradientInto', () => {
  it('sends 4, 2 and 2 bytes per value and decodes into the caller-owned array', () => {
    const g = f32([0.25, -1.5, 3, 1e-3]);
    for (const c of ['none', 'fp16', 'bf16'] as const) {
      const bytes = encodeGradient(g, c);
      expect(bytes.byteLength).toBe(g.length * bytesPerGradientValue(c));
      const out = new Float32Array(4);
      expect(decodeGradientInto(bytes, c, out)).toBe(out);
      for (let i = 0; i < 4; i++) expect(Math.abs(out[i]! - g[i]!)).toBeLessThanOrEqual(Math.abs(g[i]!) * (c === 'none' ? 0 : 2 ** -8));
    }
    expect(encodeGradient(g, 'none').buffer).toBe(g.buffer);
  });

  it('decodes a payload at an odd byte offset: a Uint8Array view and a Node Buffer view (whose slice() does not copy)', () => {
    const g = f32([1, -2, 0.5]);
    for (const c of ['fp16', 'bf16'] as const) {
      const bytes = encodeGradient(g, c);
      const shifted = new Uint8Array(bytes.byteLength + 1);
      shifted.set(bytes, 1);
      expect(Array.from(decodeGradientInto(shifted.subarray(1), c, new Float32Array(3)))).toEqual([1, -2, 0.5]);
      const buf = Buffer.alloc(bytes.byteLength + 3);
      buf.set(bytes, 3);
      const view = buf.subarray(3);
      expect(view.byteOffset % 2).toBe(1);
      expect(Array.from(decodeGradientInto(view, c, new Float32Array(3)))).toEqual([1, -2, 0.5]);
    }
  });

  it('refuses a payload of the wrong size with SHAPE_MISMATCH naming both sizes', () => {
    const err = (() => {
      try {
        decodeGradientInto(new Uint8Array(12), 'fp16', new Float32Array(4));
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(CrowdtrainError);
    expect((err as CrowdtrainError).code).toBe('SHAPE_MISMATCH');
    expect((err as CrowdtrainError).message).toMatch(/12 bytes, expected 8/);
  });
});
