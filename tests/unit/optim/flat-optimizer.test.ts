import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createFlatOptimizer, type FlatOptimizer } from '../../../core/optim/flat-optimizer.ts';
import { parseOptimizerSpec, type OptimizerSpec } from '../../../core/optim/optimizer-spec.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';
import { SeededRandom } from '../../../core/data/seeded-random.ts';
import { Float64AdamW } from '../../support/float64-reference.ts';

/** Deterministic uniform values in [-scale, scale). */
function randomVector(n: number, seed: number, scale = 1): Float32Array {
  const rng = new SeededRandom(seed);
  return Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale);
}

function maxRelDiff(a: Float32Array, b: Float32Array | Float64Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!));
    if (d > worst || Number.isNaN(d)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

const N = 1000;
const LRS = [0.1, 0.05, 0.02, 0.2, 0.01, 0.07];

/** Runs the tfjs optimizer for LRS.length steps and returns the final params. */
function runTfjs(make: (lr: number) => tf.Optimizer, setLr: (o: tf.Optimizer, lr: number) => void): Float32Array {
  const variable = tf.variable(tf.tensor1d(randomVector(N, 1)), true, 'w');
  const opt = make(LRS[0]!);
  LRS.forEach((lr, s) => {
    setLr(opt, lr);
    const g = tf.tensor1d(randomVector(N, 100 + s, 2));
    opt.applyGradients({ w: g });
    g.dispose();
  });
  const out = variable.dataSync() as Float32Array;
  const copy = out.slice();
  variable.dispose();
  opt.dispose(); // (tfjs optimizers keep one internal scalar after dispose(); not ours to assert on)
  return copy;
}

/** Runs our flat optimizer for the same steps, either whole-vector or as two ranges per update. */
function runFlat(spec: OptimizerSpec, ranges: boolean): Float32Array {
  const params = randomVector(N, 1);
  const opt = createFlatOptimizer(spec, N);
  LRS.forEach((lr, s) => {
    const g = randomVector(N, 100 + s, 2);
    if (ranges) {
      opt.step(params, g, lr, { start: 0, end: 337 });
      opt.step(params, g, lr, { start: 337, end: N });
      opt.advance();
    } else {
      opt.step(params, g, lr);
    }
  });
  expect(opt.updates).toBe(LRS.length);
  return params;
}

type TfOpt = tf.Optimizer & { setLearningRate?: (lr: number) => void; learningRate: number };
const setSgdLr = (o: tf.Optimizer, lr: number) => (o as TfOpt).setLearningRate?.(lr);
const setAdamLr = (o: tf.Optimizer, lr: number) => {
  (o as TfOpt).learningRate = lr;
};

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('flat optimizers match tfjs', () => {
  const cases: Array<{ label: string; spec: OptimizerSpec; make: (lr: number) => tf.Optimizer; setLr: typeof setSgdLr }> = [
    { label: 'sgd', spec: parseOptimizerSpec({ name: 'sgd', lr: 0.1 }), make: (lr) => tf.train.sgd(lr), setLr: setSgdLr },
    {
      label: 'momentum',
      spec: parseOptimizerSpec({ name: 'sgd', lr: 0.1, momentum: 0.9 }),
      make: (lr) => tf.train.momentum(lr, 0.9, false),
      setLr: setSgdLr,
    },
    {
      label: 'nesterov',
      spec: parseOptimizerSpec({ name: 'sgd', lr: 0.1, momentum: 0.8, nesterov: true }),
      make: (lr) => tf.train.momentum(lr, 0.8, true),
      setLr: setSgdLr,
    },
    {
      label: 'adam',
      spec: parseOptimizerSpec({ name: 'adam', lr: 0.1, beta1: 0.8, beta2: 0.95, epsilon: 1e-6 }),
      make: (lr) => tf.train.adam(lr, 0.8, 0.95, 1e-6),
      setLr: setAdamLr,
    },
    {
      label: 'adam defaults (epsilon = backend epsilon 1e-7)',
      spec: parseOptimizerSpec({ name: 'adam', lr: 0.1 }),
      make: (lr) => tf.train.adam(lr),
      setLr: setAdamLr,
    },
  ];
  for (const c of cases) {
    it(`${c.label}: whole vector and two ranges agree with tfjs within 1e-6`, () => {
      const expected = runTfjs(c.make, c.setLr);
      const initial = randomVector(N, 1);
      // The run must actually move the parameters, or the comparison proves nothing.
      expect(maxRelDiff(expected, initial)).toBeGreaterThan(1e-3);
      expect(maxRelDiff(runFlat(c.spec, false), expected)).toBeLessThanOrEqual(1e-6);
      expect(maxRelDiff(runFlat(c.spec, true), expected)).toBeLessThanOrEqual(1e-6);
    });
  }
});

/** The float64 torch.optim.AdamW formula (tests/support) over the same steps as runFlat. */
function adamwReference(p0: Float32Array, lrs: number[], beta1: number, beta2: number, epsilon: number, weightDecay: number): Float64Array {
  const ref = new Float64AdamW(p0, { beta1, beta2, epsilon, weightDecay });
  lrs.forEach((lr, s) => ref.step(randomVector(p0.length, 100 + s, 2), lr));
  return ref.params;
}

describe('adamw', () => {
  it('matches a float64 PyTorch-formula reference within 1e-6, whole vector and ranges', () => {
    const spec = parseOptimizerSpec({ name: 'adamw', lr: 0.01, weight_decay: 0.1 });
    expect(spec).toMatchObject({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
    const expected = adamwReference(randomVector(N, 1), LRS, 0.9, 0.999, 1e-8, 0.1);
    expect(maxRelDiff(randomVector(N, 1), expected)).toBeGreaterThan(1e-3);
    expect(maxRelDiff(runFlat(spec, false), expected)).toBeLessThanOrEqual(1e-6);
    expect(maxRelDiff(runFlat(spec, true), expected)).toBeLessThanOrEqual(1e-6);
  });

  it('decays weights when the gradient is zero (decoupled, not L2)', () => {
    const opt = createFlatOptimizer(parseOptimizerSpec({ name: 'adamw', lr: 0.5, weight_decay: 0.1 }), 2);
    const p = new Float32Array([2, -4]);
    opt.step(p, new Float32Array(2), 0.5);
    expect(p[0]).toBeCloseTo(2 * (1 - 0.05), 6);
    expect(p[1]).toBeCloseTo(-4 * (1 - 0.05), 6);
  });
});

/**
 * tfjs's own optimizer on the L2-decayed gradient `g + weight_decay * p`, computed with tfjs ops
 * from the variable's current value: the reference for core's sgd/adam `weight_decay`.
 */
function runTfjsL2(make: (lr: number) => tf.Optimizer, setLr: (o: tf.Optimizer, lr: number) => void, wd: number): Float32Array {
  const variable = tf.variable(tf.tensor1d(randomVector(N, 1)), true, 'w_l2');
  const opt = make(LRS[0]!);
  LRS.forEach((lr, s) => {
    setLr(opt, lr);
    const g = tf.tidy(() => tf.add(tf.tensor1d(randomVector(N, 100 + s, 2)), tf.mul(variable, wd)));
    opt.applyGradients({ w_l2: g });
    g.dispose();
  });
  const copy = (variable.dataSync() as Float32Array).slice();
  variable.dispose();
  opt.dispose();
  return copy;
}

describe('weight decay as L2 (sgd, adam)', () => {
  const cases: Array<{ label: string; spec: OptimizerSpec; make: (lr: number) => tf.Optimizer; setLr: typeof setSgdLr }> = [
    { label: 'sgd', spec: parseOptimizerSpec({ name: 'sgd', lr: 0.1, weight_decay: 0.05 }), make: (lr) => tf.train.sgd(lr), setLr: setSgdLr },
    {
      label: 'nesterov',
      spec: parseOptimizerSpec({ name: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 0.01 }),
      make: (lr) => tf.train.momentum(lr, 0.9, true),
      setLr: setSgdLr,
    },
    {
      label: 'adam',
      spec: parseOptimizerSpec({ name: 'adam', lr: 0.1, weight_decay: 0.5 }),
      make: (lr) => tf.train.adam(lr),
      setLr: setAdamLr,
    },
  ];
  for (const c of cases) {
    it(`${c.label}: equals tfjs's optimizer on g + weight_decay * p within 1e-6, whole vector and two ranges`, () => {
      const expected = runTfjsL2(c.make, c.setLr, c.spec.weight_decay);
      // Decay changed the result: without it tfjs ends measurably elsewhere.
      expect(maxRelDiff(runTfjsL2(c.make, c.setLr, 0), expected)).toBeGreaterThan(1e-4);
      expect(maxRelDiff(runFlat(c.spec, false), expected)).toBeLessThanOrEqual(1e-6);
      expect(maxRelDiff(runFlat(c.spec, true), expected)).toBeLessThanOrEqual(1e-6);
    });
  }
  it('sgd adds weight_decay * p to the gradient (hand-computed)', () => {
    const opt = createFlatOptimizer(parseOptimizerSpec({ name: 'sgd', lr: 0.5, weight_decay: 0.1 }), 1);
    const p = new Float32Array([2]);
    opt.step(p, new Float32Array([1]), 0.5);
    expect(p[0]).toBeCloseTo(2 - 0.5 * (1 + 0.2), 6);
  });
});

describe('state() / load()', () => {
  const specs = [
    parseOptimizerSpec({ name: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true }),
    parseOptimizerSpec({ name: 'adam', lr: 0.1 }),
    parseOptimizerSpec({ name: 'adamw', lr: 0.01 }),
  ];
  for (const spec of specs) {
    it(`${spec.name}: a resumed optimizer continues bit-identically`, () => {
      const straight = randomVector(N, 1);
      const a = createFlatOptimizer(spec, N);
      for (let s = 0; s < 3; s++) a.step(straight, randomVector(N, 100 + s), LRS[s]!);
      const saved = a.state();
      const resumedParams = straight.slice();
      for (let s = 3; s < 6; s++) a.step(straight, randomVector(N, 100 + s), LRS[s]!);

      // state() is a deep copy: later steps must not have changed it.
      expect(saved.step).toBe(3);
      const b: FlatOptimizer = createFlatOptimizer(spec, N);
      b.load(saved);
      for (const values of Object.values(saved.slots)) values.fill(123); // load() copied, so this is harmless
      for (let s = 3; s < 6; s++) b.step(resumedParams, randomVector(N, 100 + s), LRS[s]!);
      expect(Array.from(resumedParams)).toEqual(Array.from(straight));
      expect(b.updates).toBe(6);
    });
  }

  it('a fresh optimizer differs from a resumed one (the test above can fail)', () => {
    const spec = parseOptimizerSpec({ name: 'adam', lr: 0.1 });
    const a = createFlatOptimizer(spec, 4);
    const p = new Float32Array([1, 2, 3, 4]);
    a.step(p, new Float32Array([1, 1, 1, 1]), 0.1);
    const q = p.slice();
    a.step(p, new Float32Array([1, -1, 1, -1]), 0.1);
    createFlatOptimizer(spec, 4).step(q, new Float32Array([1, -1, 1, -1]), 0.1);
    expect(Array.from(p)).not.toEqual(Array.from(q));
  });

  it('rejects a state of another optimizer, wrong slots or wrong lengths', () => {
    const adam = createFlatOptimizer(parseOptimizerSpec({ name: 'adam', lr: 0.1 }), 4);
    const sgd = createFlatOptimizer(parseOptimizerSpec({ name: 'sgd', lr: 0.1, momentum: 0.5 }), 4);
    const expectInvalid = (fn: () => void, text: RegExp) => {
      try {
        fn();
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(CrowdtrainError);
        expect((err as CrowdtrainError).code).toBe('CHECKPOINT_INVALID');
        expect((err as CrowdtrainError).message).toMatch(text);
      }
    };
    expectInvalid(() => adam.load(sgd.state()), /'sgd', expected 'adam'/);
    expectInvalid(() => adam.load({ name: 'adam', step: 1, slots: { m: new Float32Array(4) } }), /slots \[m\], expected \[m, v\]/);
    expectInvalid(
      () => adam.load({ name: 'adam', step: 1, slots: { m: new Float32Array(4), v: new Float32Array(3) } }),
      /'v' has 3 values, expected 4/,
    );
    expectInvalid(() => sgd.load({ name: 'sgd', step: -1, slots: { momentum: new Float32Array(4) } }), /step is -1/);
  });
});

describe('argument checks', () => {
  const opt = createFlatOptimizer(parseOptimizerSpec({ name: 'sgd', lr: 0.1 }), 4);
  it('rejects wrong lengths, bad ranges and bad learning rates with named values', () => {
    expect(() => opt.step(new Float32Array(4), new Float32Array(3), 0.1)).toThrow(/gradient has 3 values, optimizer expects 4/);
    expect(() => opt.step(new Float32Array(5), new Float32Array(4), 0.1)).toThrow(/params have 5 values/);
    expect(() => opt.step(new Float32Array(4), new Float32Array(4), 0.1, { start: 2, end: 5 })).toThrow(/range \[2, 5\)/);
    expect(() => opt.step(new Float32Array(4), new Float32Array(4), Number.NaN)).toThrow(/learning rate is NaN/);
  });
  it('spec validation names the field', () => {
    expect(() => parseOptimizerSpec({ name: 'sgd', lr: 0.1, momentum: 1 })).toThrow(/momentum/);
    expect(() => parseOptimizerSpec({ name: 'adam', lr: -1 })).toThrow(/lr/);
    expect(() => parseOptimizerSpec({ name: 'rmsprop', lr: 1 })).toThrow(/name/);
    expect(() => parseOptimizerSpec({ name: 'adam', lr: 1, betas: [0.9, 0.99] })).toThrow(/betas/);
  });
});
