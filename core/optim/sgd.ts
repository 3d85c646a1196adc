import { FlatOptimizerBase } from './flat-optimizer-base.ts';
import type { SgdSpec } from './optimizer-spec.ts';

const f32 = Math.fround;

/**
 * SGD with optional heavy-ball or Nesterov momentum and L2 weight decay, computed op by op in
 * float32 exactly as tfjs `train.sgd` / `train.momentum(lr, momentum, useNesterov)` do:
 * `acc = momentum * acc + g; p += -lr * acc` (Nesterov: `p += -lr * (g + acc * momentum)`).
 * @example new SgdOptimizer(SgdSpecSchema.parse({ name: 'sgd', lr: 0.1, momentum: 0.9 }), n).step(p, g, 0.1)
 */
export class SgdOptimizer extends FlatOptimizerBase<SgdSpec> {
  constructor(spec: SgdSpec, size: number) {
    super(spec, size, spec.momentum > 0 ? ['momentum'] : []);
  }

  protected applyRange(params: Float32Array, grads: Float32Array, lr: number, start: number, end: number): void {
    const c = f32(-lr);
    const wd = f32(this.spec.weight_decay);
    const decay = this.spec.weight_decay > 0;
    if (this.spec.momentum === 0) {
      for (let i = start; i < end; i++) {
        const p = params[i]!;
        const g = decay ? f32(grads[i]! + f32(wd * p)) : grads[i]!;
        params[i] = f32(c * g) + p;
      }
      return;
    }
    const m = f32(this.spec.momentum);
    const acc = this.slot('momentum');
    if (this.spec.nesterov) {
      for (let i = start; i < end; i++) {
        const p = params[i]!;
        const g = decay ? f32(grads[i]! + f32(wd * p)) : grads[i]!;
        const a = f32(f32(m * acc[i]!) + g);
        acc[i] = a;
        params[i] = f32(c * f32(g + f32(a * m))) + p;
      }
    } else {
      for (let i = start; i < end; i++) {
        const p = params[i]!;
        const g = decay ? f32(grads[i]! + f32(wd * p)) : grads[i]!;
        const a = f32(f32(m * acc[i]!) + g);
        acc[i] = a;
        params[i] = f32(c * a) + p;
      }
    }
  }
}
