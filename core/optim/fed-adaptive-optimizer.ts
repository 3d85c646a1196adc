import { z } from 'zod';
import { CrowdtrainError } from '../protocol/errors.ts';
import { checkOptimizerState, copySlots, type OptimizerState } from './optimizer-state.ts';

const Eta = z.number().positive().finite();
const Beta = z.number().min(0).lt(1);
const Tau = z.number().positive().finite();

/** FedAdam (Reddi et al. 2020, Algorithm 2), Flower's defaults: eta 0.1, beta1 0.9, beta2 0.99, tau 1e-9. */
export const FedAdamSpecSchema = z.strictObject({
  name: z.literal('fedadam'),
  lr: Eta.default(0.1),
  beta1: Beta.default(0.9),
  beta2: Beta.default(0.99),
  tau: Tau.default(1e-9),
});

/** FedYogi (Reddi et al. 2020), Flower's defaults: eta 0.01, beta1 0.9, beta2 0.99, tau 1e-3. */
export const FedYogiSpecSchema = z.strictObject({
  name: z.literal('fedyogi'),
  lr: Eta.default(0.01),
  beta1: Beta.default(0.9),
  beta2: Beta.default(0.99),
  tau: Tau.default(1e-3),
});

/** FedAdagrad (Reddi et al. 2020; Flower fixes beta1 = 0), Flower's defaults: eta 0.1, tau 1e-9. */
export const FedAdagradSpecSchema = z.strictObject({
  name: z.literal('fedadagrad'),
  lr: Eta.default(0.1),
  tau: Tau.default(1e-9),
});

/** One of the adaptive server optimizers of "Adaptive Federated Optimization". */
export type FedAdaptiveSpec = z.infer<typeof FedAdamSpecSchema> | z.infer<typeof FedYogiSpecSchema> | z.infer<typeof FedAdagradSpecSchema>;

const SLOTS = ['m', 'v'] as const;

/**
 * A server-side adaptive optimizer over a flat vector (FedAdam, FedYogi, FedAdagrad), as Flower's
 * `aggregate_fit` computes them. It takes the round's pseudo-gradient `d` = current params minus
 * the clients' weighted mean params (the mean of the clients' `start - end` deltas; Flower's
 * `delta_t` is `-d`) and updates, per element, in float64 before rounding to float32:
 *
 * - `m = beta1 * m + (1 - beta1) * d` (FedAdagrad: beta1 = 0, so `m = d`)
 * - FedAdam `v = beta2 * v + (1 - beta2) * d^2`; FedYogi `v = v - (1 - beta2) * d^2 * sign(v - d^2)`;
 *   FedAdagrad `v = v + d^2`
 * - `params = params - eta * m / (sqrt(v) + tau)`
 *
 * No bias correction, as the paper's Algorithm 2 and Flower's strategies. State (m, v, rounds)
 * round-trips through checkpoints with {@link state} / {@link load}.
 * @example const opt = new FedAdaptiveOptimizer(FedAdamSpecSchema.parse({ name: 'fedadam' }), n); opt.step(params, meanDelta);
 */
export class FedAdaptiveOptimizer {
  readonly spec: FedAdaptiveSpec;
  readonly size: number;
  private rounds = 0;
  private readonly m: Float32Array;
  private readonly v: Float32Array;

  constructor(spec: FedAdaptiveSpec, size: number) {
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new CrowdtrainError('INVALID_CONFIG', `optimizer size is ${size}, expected an integer >= 0`);
    }
    this.spec = spec;
    this.size = size;
    this.m = new Float32Array(size);
    this.v = new Float32Array(size);
  }

  /** Rounds applied so far. */
  get updates(): number {
    return this.rounds;
  }

  /** Applies one round's pseudo-gradient `delta` (params minus the clients' mean) to `params`, in place. */
  step(params: Float32Array, delta: Float32Array): void {
    if (params.length !== this.size || delta.length !== this.size) {
      throw new CrowdtrainError('SHAPE_MISMATCH', `params have ${params.length} and the delta ${delta.length} values, optimizer expects ${this.size}`);
    }
    const s = this.spec;
    const beta1 = s.name === 'fedadagrad' ? 0 : s.beta1;
    const { m, v } = this;
    for (let i = 0; i < this.size; i++) {
      const d = delta[i]!;
      const d2 = d * d;
      const mi = beta1 * m[i]! + (1 - beta1) * d;
      const vOld = v[i]!;
      let vi: number;
      switch (s.name) {
        case 'fedadam':
          vi = s.beta2 * vOld + (1 - s.beta2) * d2;
          break;
        case 'fedyogi':
          vi = vOld - (1 - s.beta2) * d2 * Math.sign(vOld - d2);
          break;
        case 'fedadagrad':
          vi = vOld + d2;
          break;
      }
      m[i] = mi;
      v[i] = vi;
      params[i] = params[i]! - (s.lr * mi) / (Math.sqrt(vi) + s.tau);
    }
    this.rounds += 1;
  }

  /** A deep copy of the state (m, v and the round count), for checkpoints. */
  state(): OptimizerState {
    return { name: this.spec.name, step: this.rounds, slots: copySlots({ m: this.m, v: this.v }) };
  }

  /** Restores {@link state}; CrowdtrainError('CHECKPOINT_INVALID') when name or slot lengths differ. */
  load(state: OptimizerState): void {
    checkOptimizerState(state, this.spec.name, SLOTS, this.size);
    this.m.set(state.slots.m!);
    this.v.set(state.slots.v!);
    this.rounds = state.step;
  }
}
