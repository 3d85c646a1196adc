import { CrowdtrainError } from '../protocol/errors.ts';

/** What an inbound update (gradient or delta) must satisfy before it may touch shared state. */
export interface UpdateCheck {
  /** Number of values the update must have. */
  expectedLength: number;
  /** Largest accepted L2 norm; unset means no limit. */
  maxNorm?: number;
  /** Parameter version the worker computed the update from. */
  paramsVersion: number;
  /** Parameter version the coordinator holds now. */
  currentVersion: number;
  /** Versions an update may lag behind (default 0: synchronous). */
  maxStaleness?: number;
  /** Added to the NON_FINITE message when the first bad value is an infinity (say, why an encoding overflows). */
  infinityHint?: string;
}

/**
 * Checks an update without modifying anything: length (SHAPE_MISMATCH), version
 * (STALE_UPDATE: too old or from the future), finiteness (NON_FINITE, naming the first bad index)
 * and norm (NORM_TOO_LARGE). Finiteness and norm come from one float64 pass over the data.
 * Returns the update's L2 norm.
 * @example const { norm } = validateUpdate(values, { expectedLength: layout.size, paramsVersion: 7, currentVersion: 7, maxNorm: 1e3 });
 */
export function validateUpdate(values: Float32Array, check: UpdateCheck): { norm: number } {
  const { expectedLength, maxNorm, paramsVersion, currentVersion } = check;
  const maxStaleness = check.maxStaleness ?? 0;
  if (values.length !== expectedLength) {
    throw new CrowdtrainError('SHAPE_MISMATCH', `update has ${values.length} values, expected ${expectedLength}`);
  }
  if (paramsVersion > currentVersion) {
    throw new CrowdtrainError(
      'STALE_UPDATE',
      `update was computed from params version ${paramsVersion}, which is newer than the current version ${currentVersion}`,
    );
  }
  if (currentVersion - paramsVersion > maxStaleness) {
    throw new CrowdtrainError(
      'STALE_UPDATE',
      `update was computed from params version ${paramsVersion}, current is ${currentVersion} (${currentVersion - paramsVersion} behind, at most ${maxStaleness} allowed)`,
    );
  }
  // Squares of float32 values summed in float64 cannot overflow (< 1.2e77 each), so a
  // non-finite sum means a non-finite input; the index is searched only on that error path.
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    sum += v * v;
  }
  if (!Number.isFinite(sum)) {
    const index = values.findIndex((v) => !Number.isFinite(v));
    const value = values[index]!;
    const hint = check.infinityHint !== undefined && !Number.isNaN(value) ? ` (${check.infinityHint})` : '';
    throw new CrowdtrainError('NON_FINITE', `update value ${index} is ${value}; every value must be finite${hint}`);
  }
  const norm = Math.sqrt(sum);
  if (maxNorm !== undefined && norm > maxNorm) {
    throw new CrowdtrainError('NORM_TOO_LARGE', `update norm ${norm} exceeds max_norm ${maxNorm}`);
  }
  return { norm };
}
