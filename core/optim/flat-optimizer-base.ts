import { CrowdtrainError } from '../protocol/errors.ts';
import type { FlatOptimizer } from './flat-optimizer-interface.ts';
import type { OptimizerSpec } from './optimizer-spec.ts';
import { checkOptimizerState, copySlots, type OptimizerState } from './optimizer-state.ts';
import { resolveUpdateRange, type UpdateRange } from './update-range.ts';

/**
 * Shared bookkeeping of the flat optimizers: argument checks, the update counter, slots and
 * state()/load(). Subclasses implement only the per-element arithmetic in `applyRange`.
 */
export abstract class FlatOptimizerBase<S extends OptimizerSpec> implements FlatOptimizer {
  readonly spec: S;
  readonly size: number;
  protected completed = 0;
  protected readonly slots: Record<string, Float32Array>;

  constructor(spec: S, size: number, slotNames: readonly string[]) {
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new CrowdtrainError('INVALID_CONFIG', `optimizer size is ${size}, expected an integer >= 0`);
    }
    this.spec = spec;
    this.size = size;
    this.slots = {};
    for (const name of slotNames) this.slots[name] = new Float32Array(size);
  }

  get updates(): number {
    return this.completed;
  }

  step(params: Float32Array, grads: Float32Array, lr: number, range?: UpdateRange): void {
    const { start, end } = resolveUpdateRange(params, grads, this.size, lr, range);
    this.applyRange(params, grads, lr, start, end);
    if (range === undefined) this.advance();
  }

  advance(): void {
    this.completed += 1;
    this.afterAdvance();
  }

  state(): OptimizerState {
    return { name: this.spec.name, step: this.completed, slots: copySlots(this.slots) };
  }

  load(state: OptimizerState): void {
    checkOptimizerState(state, this.spec.name, Object.keys(this.slots), this.size);
    for (const [name, values] of Object.entries(state.slots)) this.slots[name]?.set(values);
    this.completed = state.step;
    this.afterLoad();
  }

  /** Applies update number `completed + 1` to [start, end); arguments are already checked. */
  protected abstract applyRange(params: Float32Array, grads: Float32Array, lr: number, start: number, end: number): void;

  /** Hook run after the update counter advanced. */
  protected afterAdvance(): void {}

  /** Hook run after a state was loaded. */
  protected afterLoad(): void {}

  /** The slot `name`, which the constructor created. */
  protected slot(name: string): Float32Array {
    const values = this.slots[name];
    if (values === undefined) throw new CrowdtrainError('INTERNAL', `optimizer has no slot '${name}'`);
    return values;
  }
}
