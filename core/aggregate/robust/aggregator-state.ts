import type { OptimizerState } from '../../optim/optimizer-state.ts';
import type { Aggregator } from './index.ts';

/** Prefix of an aggregator's slots inside an update rule's checkpointed state. */
export const AGGREGATOR_SLOT_PREFIX = 'aggregator.';

/**
 * The state an update rule checkpoints when it owns an optimizer and an aggregator: the
 * optimizer's, with the aggregator's slots added under `aggregator.<slot>` (the checkpoint file
 * stores any named slots). Stateless aggregators add nothing, so such a rule's state is exactly
 * the optimizer's.
 * @example state: () => withAggregatorState(optimizer.state(), aggregator)
 */
export function withAggregatorState(state: OptimizerState, aggregator: Aggregator): OptimizerState {
  const slots = { ...state.slots };
  for (const [name, values] of Object.entries(aggregator.state())) slots[`${AGGREGATOR_SLOT_PREFIX}${name}`] = values;
  return { ...state, slots };
}

/** Splits a state written by {@link withAggregatorState} back into the optimizer's and the aggregator's slots. */
export function splitAggregatorState(state: OptimizerState): { optimizer: OptimizerState; aggregator: Record<string, Float32Array> } {
  const own: Record<string, Float32Array> = {};
  const aggregator: Record<string, Float32Array> = {};
  for (const [name, values] of Object.entries(state.slots)) {
    if (name.startsWith(AGGREGATOR_SLOT_PREFIX)) aggregator[name.slice(AGGREGATOR_SLOT_PREFIX.length)] = values;
    else own[name] = values;
  }
  return { optimizer: { ...state, slots: own }, aggregator };
}
