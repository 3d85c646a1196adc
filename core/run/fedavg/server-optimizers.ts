import { FedAdaptiveOptimizer } from '../../optim/fed-adaptive-optimizer.ts';
import { createFlatOptimizer } from '../../optim/flat-optimizer.ts';
import type { OptimizerState } from '../../optim/optimizer-state.ts';
import { SgdSpecSchema } from '../../optim/optimizer-spec.ts';
import type { ServerOptimizerSpec } from './fedavg-options.ts';

/** A server optimizer: applies one round's mean client delta (`start − end`, a pseudo-gradient) to the params. */
export interface ServerOptimizer {
  /** The learning rate it steps with (logged as `lr`). */
  readonly lr: number;
  /** Updates `params` in place from the round's sample-weighted mean delta. */
  step(params: Float32Array, meanDelta: Float32Array): void;
  state(): OptimizerState;
  load(state: OptimizerState): void;
}

function sgdServer(lr: number, momentum: number, size: number): ServerOptimizer {
  const opt = createFlatOptimizer(SgdSpecSchema.parse({ name: 'sgd', lr, momentum }), size);
  return { lr, step: (params, delta) => opt.step(params, delta, lr), state: () => opt.state(), load: (s) => opt.load(s) };
}

function adaptiveServer(spec: Extract<ServerOptimizerSpec, { name: 'fedadam' | 'fedyogi' | 'fedadagrad' }>, size: number): ServerOptimizer {
  const opt = new FedAdaptiveOptimizer(spec, size);
  return { lr: spec.lr, step: (params, delta) => opt.step(params, delta), state: () => opt.state(), load: (s) => opt.load(s) };
}

/**
 * The server optimizers by name (Flower's strategies): FedAvg and FedAvgM are SGD without and with
 * heavy-ball momentum on the mean delta (state `sgd`), FedAdam / FedYogi / FedAdagrad the adaptive
 * ones of core/optim/fed-adaptive-optimizer.ts.
 */
export const SERVER_OPTIMIZERS: { [N in ServerOptimizerSpec['name']]: (spec: Extract<ServerOptimizerSpec, { name: N }>, size: number) => ServerOptimizer } = {
  fedavg: (spec, size) => sgdServer(spec.lr, 0, size),
  fedavgm: (spec, size) => sgdServer(spec.lr, spec.momentum, size),
  fedadam: adaptiveServer,
  fedyogi: adaptiveServer,
  fedadagrad: adaptiveServer,
};

/** Builds the server optimizer a spec names, with fresh state. */
export function createServerOptimizer(spec: ServerOptimizerSpec, size: number): ServerOptimizer {
  const make = SERVER_OPTIMIZERS[spec.name] as (s: ServerOptimizerSpec, n: number) => ServerOptimizer;
  return make(spec, size);
}
