import { CrowdtrainError } from '../protocol/errors.ts';

/** A half-open index range [start, end) of the flat parameter vector. */
export interface UpdateRange {
  start: number;
  end: number;
}

/**
 * Checks the arguments of one optimizer step (vector lengths, range bounds, learning rate) and
 * returns the range to update; throws CrowdtrainError('SHAPE_MISMATCH' | 'INVALID_CONFIG') naming the values.
 */
export function resolveUpdateRange(
  params: Float32Array,
  grads: Float32Array,
  size: number,
  lr: number,
  range: UpdateRange | undefined,
): UpdateRange {
  if (params.length !== size) {
    throw new CrowdtrainError('SHAPE_MISMATCH', `params have ${params.length} values, optimizer expects ${size}`);
  }
  if (grads.length !== size) {
    throw new CrowdtrainError('SHAPE_MISMATCH', `gradient has ${grads.length} values, optimizer expects ${size}`);
  }
  if (!Number.isFinite(lr) || lr < 0) {
    throw new CrowdtrainError('INVALID_CONFIG', `learning rate is ${lr}, expected a finite number >= 0`);
  }
  if (range === undefined) return { start: 0, end: size };
  const { start, end } = range;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > size || start > end) {
    throw new CrowdtrainError('SHAPE_MISMATCH', `range [${start}, ${end}) is not within [0, ${size})`);
  }
  return { start, end };
}
