import { CrowdtrainError } from '../protocol/errors.ts';

/**
 * The L2 norm of a flat gradient, accumulated in float64 (NaN/Infinity if any value is not finite).
 * @example globalNorm(new Float32Array([3, 4])) // 5
 */
export function globalNorm(grads: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < grads.length; i++) {
    const g = grads[i]!;
    sum += g * g;
  }
  return Math.sqrt(sum);
}

/**
 * Scales `grads` in place so that its global L2 norm is at most `maxNorm`, as
 * torch.nn.utils.clip_grad_norm_: `scale = min(1, maxNorm / (norm + 1e-6))`. Returns the norm
 * before clipping and the scale applied (1 when nothing was clipped). A non-finite norm throws
 * CrowdtrainError('NON_FINITE') instead of spreading NaN into the gradient.
 * @example const { norm, scale } = clipByGlobalNorm(grads, 1.0);
 */
export function clipByGlobalNorm(grads: Float32Array, maxNorm: number): { norm: number; scale: number } {
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm)) {
    throw new CrowdtrainError('INVALID_CONFIG', `max_norm is ${maxNorm}, expected a finite number > 0`);
  }
  const norm = globalNorm(grads);
  if (!Number.isFinite(norm)) {
    throw new CrowdtrainError('NON_FINITE', `gradient norm is ${norm}; cannot clip a non-finite gradient`);
  }
  const scale = Math.min(1, maxNorm / (norm + 1e-6));
  if (scale < 1) {
    for (let i = 0; i < grads.length; i++) grads[i] = grads[i]! * scale;
  }
  return { norm, scale };
}
