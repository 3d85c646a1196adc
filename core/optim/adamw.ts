import { FlatOptimizerBase } from './flat-optimizer-base.ts';
import type { AdamwSpec } from './optimizer-spec.ts';

/**
 * AdamW as torch.optim.AdamW (amsgrad off): `p *= 1 - lr * weight_decay`, then the Adam update
 * `p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + epsilon)`; per-element math in float64,
 * parameters and moments stored as float32.
 * @example new AdamwOptimizer(AdamwSpecSchema.parse({ name: 'adamw', lr: 1e-3 }), n).step(p, g, 1e-3)
 */
export class AdamwOptimizer extends FlatOptimizerBase<AdamwSpec> {
  constructor(spec: AdamwSpec, size: number) {
    super(spec, size, ['m', 'v']);
  }

  protected applyRange(params: Float32Array, grads: Float32Array, lr: number, start: number, end: number): void {
    const { beta1, beta2, epsilon, weight_decay } = this.spec;
    const t = this.completed + 1;
    const decay = 1 - lr * weight_decay;
    const stepSize = lr / (1 - Math.pow(beta1, t));
    const invSqrtBc2 = 1 / Math.sqrt(1 - Math.pow(beta2, t));
    const oneMinusB1 = 1 - beta1;
    const oneMinusB2 = 1 - beta2;
    const mSlot = this.slot('m');
    const vSlot = this.slot('v');
    for (let i = start; i < end; i++) {
      const g = grads[i]!;
      const m = beta1 * mSlot[i]! + oneMinusB1 * g;
      const v = beta2 * vSlot[i]! + oneMinusB2 * g * g;
      mSlot[i] = m;
      vSlot[i] = v;
      params[i] = params[i]! * decay - (stepSize * m) / (Math.sqrt(v) * invSqrtBc2 + epsilon);
    }
  }
}
