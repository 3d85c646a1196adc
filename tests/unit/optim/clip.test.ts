import { describe, it, expect } from 'vitest';
import { clipByGlobalNorm, globalNorm } from '../../../core/optim/clip.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';

describe('globalNorm', () => {
  it('is the L2 norm', () => {
    expect(globalNorm(new Float32Array([3, 4]))).toBe(5);
    expect(globalNorm(new Float32Array(0))).toBe(0);
  });
  it('accumulates in float64 (a float32 sum would lose the small terms)', () => {
    const g = new Float32Array(1_000_001).fill(1e-3);
    g[0] = 1e4; // 1e8 + 1e6 * ~1e-6: a float32 accumulator (ulp 8 at 1e8) would round every small term away
    const small = Math.fround(1e-3) ** 2;
    expect(globalNorm(g) ** 2).toBeCloseTo(1e8 + 1e6 * small, 1); // float32 would be off by 1
  });
  it('returns NaN / Infinity for non-finite input', () => {
    expect(globalNorm(new Float32Array([1, Number.NaN]))).toBeNaN();
    expect(globalNorm(new Float32Array([1, Infinity]))).toBe(Infinity);
  });
});

describe('clipByGlobalNorm', () => {
  it('scales down to maxNorm like torch clip_grad_norm_ (coef = max / (norm + 1e-6))', () => {
    const g = new Float32Array([3, 4]);
    const { norm, scale } = clipByGlobalNorm(g, 1);
    expect(norm).toBe(5);
    expect(scale).toBeCloseTo(1 / (5 + 1e-6), 12);
    expect(g[0]).toBeCloseTo(0.6, 6);
    expect(g[1]).toBeCloseTo(0.8, 6);
    expect(globalNorm(g)).toBeLessThanOrEqual(1);
  });
  it('leaves a gradient within the limit untouched with scale 1', () => {
    const g = new Float32Array([0.3, 0.4]);
    expect(clipByGlobalNorm(g, 1)).toEqual({ norm: globalNorm(new Float32Array([0.3, 0.4])), scale: 1 });
    expect(Array.from(g)).toEqual(Array.from(new Float32Array([0.3, 0.4])));
  });
  it('refuses non-finite gradients and bad limits', () => {
    const g = new Float32Array([1, Number.NaN]);
    try {
      clipByGlobalNorm(g, 1);
      expect.unreachable();
    } catch (err) {
      expect((err as CrowdtrainError).code).toBe('NON_FINITE');
    }
    expect(() => clipByGlobalNorm(new Float32Array(2), 0)).toThrow(/max_norm is 0/);
    expect(() => clipByGlobalNorm(new Float32Array(2), Number.NaN)).toThrow(/max_norm is NaN/);
  });
});
