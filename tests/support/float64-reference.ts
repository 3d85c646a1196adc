/**
 * Float64 reference formulas that tests compare the project's code against. Written from the
 * published definitions (torch.optim.AdamW, torch.optim.lr_scheduler's LinearLR /
 * CosineAnnealingLR / StepLR / ExponentialLR / SequentialLR), NOT from core/optim: nothing here
 * imports project code, so a bug in core cannot be copied into its own oracle.
 */

/** Hyper-parameters of {@link Float64AdamW} (torch.optim.AdamW's names, amsgrad off). */
export interface AdamWHyper {
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
}

/**
 * AdamW exactly as torch.optim.AdamW documents it, every value (params, moments, arithmetic)
 * in float64:
 * `p ← p·(1 − lr·λ); m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²;
 *  p ← p − lr · (m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + ε)`.
 * @example const ref = new Float64AdamW(params, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01 }); ref.step(grads, 1e-3);
 */
export class Float64AdamW {
  /** The parameters (float64, updated in place by {@link step}). */
  readonly params: Float64Array;
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;
  private readonly h: AdamWHyper;

  /** Starts from a float64 copy of `initial` with zero moments and step count 0. */
  constructor(initial: ArrayLike<number>, hyper: AdamWHyper) {
    this.params = Float64Array.from(initial);
    this.m = new Float64Array(this.params.length);
    this.v = new Float64Array(this.params.length);
    this.h = { ...hyper };
  }

  /** Applies update number t+1 with gradient `grads` (same length as params) and learning rate `lr`. */
  step(grads: ArrayLike<number>, lr: number): void {
    if (grads.length !== this.params.length) throw new Error(`gradient has ${grads.length} values, params ${this.params.length}`);
    this.t += 1;
    const { beta1, beta2, epsilon, weightDecay } = this.h;
    const bc1 = 1 - beta1 ** this.t;
    const bc2 = 1 - beta2 ** this.t;
    for (let i = 0; i < this.params.length; i++) {
      const g = grads[i]!;
      let p = this.params[i]! * (1 - lr * weightDecay);
      this.m[i] = beta1 * this.m[i]! + (1 - beta1) * g;
      this.v[i] = beta2 * this.v[i]! + (1 - beta2) * g * g;
      p -= (lr * (this.m[i]! / bc1)) / (Math.sqrt(this.v[i]! / bc2) + epsilon);
      this.params[i] = p;
    }
  }
}

/** One stage of a learning-rate schedule the reference knows (snake_case, as in run configs). */
export type ReferenceLrStage =
  | { type: 'constant'; updates?: number }
  | { type: 'linear'; start_factor: number; end_factor: number; updates: number }
  | { type: 'cosine'; end_factor?: number; updates?: number }
  | { type: 'step'; step_size: number; gamma: number; updates?: number }
  | { type: 'exponential'; gamma: number; updates?: number };

/** A schedule the reference knows: one stage, or a chain of stages run one after another. */
export type ReferenceLrSchedule = ReferenceLrStage | { type: 'chain'; stages: ReferenceLrStage[] };

/** Factor of one stage `u` updates after its start, the stage lasting `length` updates. */
function stageFactor(stage: ReferenceLrStage, u: number, length: number): number {
  switch (stage.type) {
    case 'constant':
      return 1;
    case 'linear': {
      // torch LinearLR: start → end linearly over `updates`, then held at end.
      const frac = Math.min(u, stage.updates) / stage.updates;
      return stage.start_factor * (1 - frac) + stage.end_factor * frac;
    }
    case 'cosine': {
      // torch CosineAnnealingLR (closed form) from 1 to end_factor over `length`, then held.
      const end = stage.end_factor ?? 0;
      if (length <= 0) return end;
      return end + ((1 - end) / 2) * (1 + Math.cos(Math.PI * (Math.min(u, length) / length)));
    }
    case 'step':
      return Math.pow(stage.gamma, Math.floor(u / stage.step_size));
    case 'exponential':
      return Math.pow(stage.gamma, u);
    default:
      throw new Error(`the float64 reference has no formula for lr stage ${JSON.stringify(stage)}`);
  }
}

/**
 * The learning rate of 0-based update `update` in a run of `totalUpdates` updates, in float64:
 * `baseLr × factor`. A stage without `updates` lasts the rest of the run (total minus the fixed
 * stages); past the end of a chain the last stage goes on (and holds where it saturates).
 * Throws for a schedule it has no formula for (e.g. warmup_cosine: write it as a chain).
 * @example referenceLr({ type: 'cosine', end_factor: 0 }, 0.1, 500, 1000) // 0.05
 */
export function referenceLr(schedule: ReferenceLrSchedule, baseLr: number, update: number, totalUpdates: number): number {
  if (schedule.type !== 'chain') return baseLr * stageFactor(schedule, update, schedule.updates ?? totalUpdates);
  const fixed = schedule.stages.reduce((s, st) => s + (st.updates ?? 0), 0);
  let start = 0;
  for (const [i, stage] of schedule.stages.entries()) {
    const length = stage.updates ?? totalUpdates - fixed;
    const last = i === schedule.stages.length - 1;
    if (update < start + length || last) return baseLr * stageFactor(stage, update - start, length);
    start += length;
  }
  throw new Error('lr chain without stages');
}
