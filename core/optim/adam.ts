import { FlatOptimizerBase } from './flat-optimizer-base.ts';
import type { AdamSpec } from './optimizer-spec.ts';

const f32 = Math.fround;

/**
 * Adam computed op by op in float32 exactly as tfjs `train.adam(lr, beta1, beta2, epsilon)`:
 * the bias-correction powers are float32 accumulators multiplied by beta once per update, and
 * `p += -lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + epsilon)`. Weight decay is L2 added to the gradient.
 * @example new AdamOptimizer(AdamSpecSchema.parse({ name: 'adam', lr: 1e-3 }), n).step(p, g, 1e-3)
 */
export class AdamOptimizer extends FlatOptimizerBase<AdamSpec> {
  /** beta1^t and beta2^t for the update being applied, as tfjs's float32 `accBeta` variables. */
  private accBeta1: number;
  private accBeta2: number;

  constructor(spec: AdamSpec, size: number) {
    super(spec, size, ['m', 'v']);
    this.accBeta1 = f32(spec.beta1);
    this.accBeta2 = f32(spec.beta2);
  }

  protected applyRange(params: Float32Array, grads: Float32Array, lr: number, start: number, end: number): void {
    const { beta1, beta2, epsilon, weight_decay } = this.spec;
    const k: AdamConstants = {
      b1: f32(beta1),
      b2: f32(beta2),
      oneMinusB1: f32(1 - beta1),
      oneMinusB2: f32(1 - beta2),
      c1: f32(1 - this.accBeta1),
      c2: f32(1 - this.accBeta2),
      eps: f32(epsilon),
      negLr: f32(-lr),
      wd: f32(weight_decay),
    };
    const m = this.slot('m');
    const v = this.slot('v');
    if (weight_decay > 0) applyAdamL2Range(params, grads, m, v, start, end, k);
    else applyAdamRange(params, grads, m, v, start, end, k);
  }

  protected override afterAdvance(): void {
    this.accBeta1 = f32(this.accBeta1 * f32(this.spec.beta1));
    this.accBeta2 = f32(this.accBeta2 * f32(this.spec.beta2));
  }

  protected override afterLoad(): void {
    // Replays the float32 products so that a resumed run matches an uninterrupted one bit for bit.
    const b1 = f32(this.spec.beta1);
    const b2 = f32(this.spec.beta2);
    let acc1 = b1;
    let acc2 = b2;
    for (let t = 0; t < this.completed; t++) {
      acc1 = f32(acc1 * b1);
      acc2 = f32(acc2 * b2);
    }
    this.accBeta1 = acc1;
    this.accBeta2 = acc2;
  }
}

/** Float32-rounded scalars of one Adam update (c1, c2: the bias corrections 1 - beta^t). */
export interface AdamConstants {
  b1: number;
  b2: number;
  oneMinusB1: number;
  oneMinusB2: number;
  c1: number;
  c2: number;
  eps: number;
  negLr: number;
  wd: number;
}

/** The tfjs-exact Adam kernel on [start, end), without weight decay. */
export function applyAdamRange(
  params: Float32Array,
  grads: Float32Array,
  mSlot: Float32Array,
  vSlot: Float32Array,
  start: number,
  end: number,
  k: AdamConstants,
): void {
  const { b1, b2, oneMinusB1, oneMinusB2, c1, c2, eps, negLr } = k;
  for (let i = start; i < end; i++) {
    const g = grads[i]!;
    const m = f32(f32(mSlot[i]! * b1) + f32(g * oneMinusB1));
    const v = f32(f32(vSlot[i]! * b2) + f32(f32(g * g) * oneMinusB2));
    mSlot[i] = m;
    vSlot[i] = v;
    const ratio = f32(f32(m / c1) / f32(f32(Math.sqrt(f32(v / c2))) + eps));
    params[i] = f32(ratio * negLr) + params[i]!;
  }
}

/** The tfjs-exact Adam kernel on [start, end) with L2 weight decay `g + wd * p`. */
export function applyAdamL2Range(
  params: Float32Array,
  grads: Float32Array,
  mSlot: Float32Array,
  vSlot: Float32Array,
  start: number,
  end: number,
  k: AdamConstants,
): void {
  const { b1, b2, oneMinusB1, oneMinusB2, c1, c2, eps, negLr, wd } = k;
  for (let i = start; i < end; i++) {
    const p = params[i]!;
    const g = f32(grads[i]! + f32(wd * p));
    const m = f32(f32(mSlot[i]! * b1) + f32(g * oneMinusB1));
    const v = f32(f32(vSlot[i]! * b2) + f32(f32(g * g) * oneMinusB2));
    mSlot[i] = m;
    vSlot[i] = v;
    const ratio = f32(f32(m / c1) / f32(f32(Math.sqrt(f32(v / c2))) + eps));
    params[i] = f32(ratio * negLr) + p;
  }
}
