import { CrowdtrainError } from '../protocol/errors.ts';

/**
 * Serialisable optimizer state: the algorithm name, the number of completed global updates,
 * and one Float32Array per slot (e.g. `m` and `v` for Adam), each as long as the optimized vector.
 */
export interface OptimizerState {
  name: string;
  step: number;
  slots: Record<string, Float32Array>;
}

/** Deep-copies slot arrays so that a saved state never aliases live optimizer memory. */
export function copySlots(slots: Readonly<Record<string, Float32Array>>): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [key, values] of Object.entries(slots)) out[key] = values.slice();
  return out;
}

/**
 * Checks that `state` belongs to optimizer `name` with exactly the slots `slotNames`, each of `size`
 * values, and a non-negative integer step; throws CrowdtrainError('CHECKPOINT_INVALID') naming the mismatch.
 */
export function checkOptimizerState(
  state: OptimizerState,
  name: string,
  slotNames: readonly string[],
  size: number,
): void {
  if (state.name !== name) {
    throw new CrowdtrainError('CHECKPOINT_INVALID', `optimizer state is for '${state.name}', expected '${name}'`);
  }
  if (!Number.isSafeInteger(state.step) || state.step < 0) {
    throw new CrowdtrainError('CHECKPOINT_INVALID', `optimizer state step is ${state.step}, expected an integer >= 0`);
  }
  const got = Object.keys(state.slots).sort();
  const want = [...slotNames].sort();
  if (got.join(',') !== want.join(',')) {
    throw new CrowdtrainError(
      'CHECKPOINT_INVALID',
      `optimizer state for '${name}' has slots [${got.join(', ')}], expected [${want.join(', ')}]`,
    );
  }
  for (const slot of slotNames) {
    const values = state.slots[slot];
    if (!(values instanceof Float32Array)) {
      throw new CrowdtrainError('CHECKPOINT_INVALID', `optimizer state slot '${slot}' is not a Float32Array`);
    }
    if (values.length !== size) {
      throw new CrowdtrainError(
        'CHECKPOINT_INVALID',
        `optimizer state slot '${slot}' has ${values.length} values, expected ${size}`,
      );
    }
  }
}
