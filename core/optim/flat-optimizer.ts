import type { OptimizerSpec } from './optimizer-spec.ts';
import type { FlatOptimizer } from './flat-optimizer-interface.ts';
import { SgdOptimizer } from './sgd.ts';
import { AdamOptimizer } from './adam.ts';
import { AdamwOptimizer } from './adamw.ts';

/** The optimizer contract and its state/range types, re-exported so importers need only this module. */
export type { FlatOptimizer } from './flat-optimizer-interface.ts';
export type { OptimizerState } from './optimizer-state.ts';
export type { UpdateRange } from './update-range.ts';

/**
 * Builds the optimizer named by `spec` for a flat vector of `size` values, with zeroed slots.
 * @example
 * const opt = createFlatOptimizer(parseOptimizerSpec({ name: 'adam', lr: 1e-3 }), params.length);
 * opt.step(params, grads, lrAt(schedule, 1e-3, update, total)); // whole vector, advances itself
 */
export function createFlatOptimizer(spec: OptimizerSpec, size: number): FlatOptimizer {
  switch (spec.name) {
    case 'sgd':
      return new SgdOptimizer(spec, size);
    case 'adam':
      return new AdamOptimizer(spec, size);
    case 'adamw':
      return new AdamwOptimizer(spec, size);
    default: {
      const never: never = spec;
      throw new Error(`unknown optimizer ${JSON.stringify(never)}`);
    }
  }
}
