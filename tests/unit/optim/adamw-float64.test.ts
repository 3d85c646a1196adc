import { describe, expect, it } from 'vitest';
import { createFlatOptimizer } from '../../../core/optim/flat-optimizer.ts';
import { parseOptimizerSpec } from '../../../core/optim/optimizer-spec.ts';
import { Float64AdamW, referenceLr } from '../../support/float64-reference.ts';

/*
 * core's AdamW (float32 params and moments, float64 per-element arithmetic) against the float64
 * torch.optim.AdamW formula of tests/support/float64-reference.ts, over a long run: 200 updates
 * with a learning rate that warms up, then decays (cosine) and is perturbed every update, for
 * several weight decays. The gradient depends on the parameters (a noisy quadratic), so each side
 * follows its own trajectory and errors could compound; they do not because float32 storage
 * adds only ~6e-8 relative per update.
 */

const N = 512;
const STEPS = 200;

/**
 * Tolerance on max |core - float64| / max(1, |float64|) after 200 updates. Measured: 3.9e-7 to
 * 8.5e-7 across the cases below (a few float32 ulps of parameters of magnitude up to ~3); 2e-6
 * leaves headroom while any formula change fails by orders of magnitude (coupled instead of
 * decoupled decay: ~8e-2, see the last test).
 */
const TOLERANCE = 2e-6;

/** Deterministic uniform values in [-1, 1) (mulberry32), independent of core's generators. */
function uniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

/** Gradient of sum_i (p_i - target_i)^2 plus noise, from whichever params a side holds. */
function gradient(params: ArrayLike<number>, target: Float64Array, noise: () => number): Float32Array {
  const g = new Float32Array(params.length);
  for (let i = 0; i < g.length; i++) g[i] = 2 * (params[i]! - target[i]!) + 0.5 * noise();
  return g;
}

/** warmup 20 updates, cosine to 0.05 over the rest, ×(1 ± 0.2) noise: a different lr every update. */
function lrOf(step: number, jitter: () => number): number {
  const schedule = { type: 'chain' as const, stages: [{ type: 'linear' as const, start_factor: 0.01, end_factor: 1, updates: 20 }, { type: 'cosine' as const, end_factor: 0.05 }] };
  return referenceLr(schedule, 0.02, step, STEPS) * (1 + 0.2 * jitter());
}

function maxRelDiff(a: Float32Array, b: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return worst;
}

describe('AdamW: core vs the float64 torch formula over 200 updates', () => {
  for (const weightDecay of [0, 0.01, 0.1, 1]) {
    for (const ranges of [false, true]) {
      it(`weight_decay ${weightDecay}, ${ranges ? 'applied as 3 ranges per update' : 'whole vector'}: max relative difference <= ${TOLERANCE}`, () => {
        const spec = parseOptimizerSpec({ name: 'adamw', lr: 0.02, beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weight_decay: weightDecay });
        const init = uniform(1);
        const params = Float32Array.from({ length: N }, () => init());
        const t = uniform(2);
        const target = Float64Array.from({ length: N }, () => 3 * t());
        const core = createFlatOptimizer(spec, N);
        const ref = new Float64AdamW(params, { beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay });
        const noiseCore = uniform(3);
        const noiseRef = uniform(3);
        const jitter = uniform(4);
        for (let step = 0; step < STEPS; step++) {
          const lr = lrOf(step, jitter);
          const g = gradient(params, target, noiseCore);
          if (ranges) {
            core.step(params, g, lr, { start: 0, end: 100 });
            core.step(params, g, lr, { start: 100, end: 301 });
            core.step(params, g, lr, { start: 301, end: N });
            core.advance();
          } else {
            core.step(params, g, lr);
          }
          ref.step(gradient(ref.params, target, noiseRef), lr);
        }
        expect(core.updates).toBe(STEPS);
        const diff = maxRelDiff(params, ref.params);
        expect(diff).toBeLessThanOrEqual(TOLERANCE);
        // The run really trained: parameters are far from where they started.
        const start = uniform(1);
        expect(maxRelDiff(params, Float64Array.from({ length: N }, () => start()))).toBeGreaterThan(0.1);
      });
    }
  }

  it('the comparison can fail: coupled (L2) decay instead of decoupled is far outside the tolerance', () => {
    const weightDecay = 0.1;
    const spec = parseOptimizerSpec({ name: 'adamw', lr: 0.02, beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weight_decay: weightDecay });
    const init = uniform(1);
    const params = Float32Array.from({ length: N }, () => init());
    const t = uniform(2);
    const target = Float64Array.from({ length: N }, () => 3 * t());
    const core = createFlatOptimizer(spec, N);
    // Adam with L2 (g + λp) and no decoupled decay: what AdamW is not.
    const coupled = new Float64AdamW(params, { beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay: 0 });
    const noiseCore = uniform(3);
    const noiseRef = uniform(3);
    const jitter = uniform(4);
    for (let step = 0; step < STEPS; step++) {
      const lr = lrOf(step, jitter);
      core.step(params, gradient(params, target, noiseCore), lr);
      const g = gradient(coupled.params, target, noiseRef);
      for (let i = 0; i < N; i++) g[i] = g[i]! + weightDecay * coupled.params[i]!;
      coupled.step(g, lr);
    }
    // Measured: ~8e-2.
    expect(maxRelDiff(params, coupled.params)).toBeGreaterThan(1e3 * TOLERANCE);
  });
});
