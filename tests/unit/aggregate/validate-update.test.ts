import { describe, it, expect } from 'vitest';
import { validateUpdate, type UpdateCheck } from '../../../core/aggregate/validate-update.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';

const ok: UpdateCheck = { expectedLength: 4, paramsVersion: 5, currentVersion: 5 };

function codeOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CrowdtrainError);
    return { code: (err as CrowdtrainError).code, message: (err as Error).message };
  }
  throw new Error('expected validateUpdate to throw');
}

describe('validateUpdate', () => {
  it('accepts a good update and returns its L2 norm', () => {
    expect(validateUpdate(new Float32Array([1, 2, 2, 4]), ok)).toEqual({ norm: 5 });
    expect(validateUpdate(new Float32Array([1, 2, 2, 4]), { ...ok, maxNorm: 5 })).toEqual({ norm: 5 });
  });

  it('SHAPE_MISMATCH names both lengths', () => {
    const e = codeOf(() => validateUpdate(new Float32Array(288), { ...ok, expectedLength: 72 }));
    expect(e).toEqual({ code: 'SHAPE_MISMATCH', message: 'update has 288 values, expected 72' });
  });

  it('STALE_UPDATE for old updates beyond max staleness and for future versions', () => {
    const v = new Float32Array(4);
    expect(codeOf(() => validateUpdate(v, { ...ok, paramsVersion: 4 })).code).toBe('STALE_UPDATE');
    expect(validateUpdate(v, { ...ok, paramsVersion: 3, maxStaleness: 2 }).norm).toBe(0);
    const old = codeOf(() => validateUpdate(v, { ...ok, paramsVersion: 2, maxStaleness: 2 }));
    expect(old.code).toBe('STALE_UPDATE');
    expect(old.message).toMatch(/version 2, current is 5 \(3 behind, at most 2 allowed\)/);
    const future = codeOf(() => validateUpdate(v, { ...ok, paramsVersion: 6 }));
    expect(future.code).toBe('STALE_UPDATE');
    expect(future.message).toMatch(/version 6.*newer than the current version 5/);
  });

  it('NON_FINITE names the first bad index', () => {
    const v = new Float32Array(10);
    v[7] = Number.NaN;
    v[9] = Infinity;
    const e = codeOf(() => validateUpdate(v, { ...ok, expectedLength: 10 }));
    expect(e.code).toBe('NON_FINITE');
    expect(e.message).toMatch(/value 7 is NaN/);
    const w = new Float32Array(3);
    w[1] = -Infinity;
    expect(codeOf(() => validateUpdate(w, { ...ok, expectedLength: 3 })).message).toMatch(/value 1 is -Infinity/);
  });

  it('adds infinityHint to the NON_FINITE message for an infinity, not for NaN', () => {
    const inf = new Float32Array([0, Infinity, 0]);
    expect(codeOf(() => validateUpdate(inf, { ...ok, expectedLength: 3, infinityHint: 'use bf16' })).message).toBe('update value 1 is Infinity; every value must be finite (use bf16)');
    const nan = new Float32Array([Number.NaN, Infinity, 0]);
    expect(codeOf(() => validateUpdate(nan, { ...ok, expectedLength: 3, infinityHint: 'use bf16' })).message).toBe('update value 0 is NaN; every value must be finite');
  });

  it('large finite float32 values do not look non-finite (float64 accumulation)', () => {
    const v = new Float32Array(1000).fill(3e38);
    expect(validateUpdate(v, { ...ok, expectedLength: 1000 }).norm).toBeCloseTo(Math.fround(3e38) * Math.sqrt(1000), -30);
  });

  it('NORM_TOO_LARGE names the norm and the limit', () => {
    const e = codeOf(() => validateUpdate(new Float32Array([3, 4, 0, 0]), { ...ok, maxNorm: 4.5 }));
    expect(e).toEqual({ code: 'NORM_TOO_LARGE', message: 'update norm 5 exceeds max_norm 4.5' });
  });

  it('checks in order: shape before staleness before finiteness before norm, and never writes', () => {
    const v = new Float32Array([Number.NaN, 1e30, 0]);
    const copy = v.slice();
    expect(codeOf(() => validateUpdate(v, { ...ok, expectedLength: 4, paramsVersion: 0, maxNorm: 1 })).code).toBe('SHAPE_MISMATCH');
    expect(codeOf(() => validateUpdate(v, { ...ok, expectedLength: 3, paramsVersion: 0, maxNorm: 1 })).code).toBe('STALE_UPDATE');
    expect(codeOf(() => validateUpdate(v, { ...ok, expectedLength: 3, maxNorm: 1 })).code).toBe('NON_FINITE');
    expect(Array.from(v)).toEqual(Array.from(copy));
  });
});
