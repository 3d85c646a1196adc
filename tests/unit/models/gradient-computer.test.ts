import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { GradientComputer } from '../../../core/models/gradient-computer.ts';
import { buildModel, parseModelSpec, softmaxCrossEntropyLoss } from '../../../core/models/model-spec.ts';
import type { ModelBuildInfo, ModelSpec } from '../../../core/models/model-spec.ts';
import { flattenWeights, layoutOfModel } from '../../../core/codec/param-layout.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Deterministic pseudo-random numbers in [-1, 1) (no tf RNG state involved). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

function batch(n: number, shape: number[], classes: number, seed: number): { xs: tf.Tensor; ys: tf.Tensor } {
  const rnd = lcg(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const xs = tf.tensor(Float32Array.from({ length: n * size }, rnd), [n, ...shape]);
  const labels = Array.from({ length: n }, (_, i) => (i * 7 + seed) % classes);
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), classes));
  return { xs, ys };
}

const tinyMlp: [ModelSpec, ModelBuildInfo] = [
  parseModelSpec({ type: 'mlp', hidden: [5], activation: 'tanh' }),
  { inputShape: [4], numClasses: 3, seed: 5 },
];
/** Without max pooling: no kinks, so finite differences are exact up to float32 noise. */
const tinyCnnNoPool: [ModelSpec, ModelBuildInfo] = [
  parseModelSpec({ type: 'cnn', conv: [{ filters: 2, kernel_size: 3, stride: 2 }], pool: 0, dense: [4], activation: 'tanh' }),
  { inputShape: [7, 7, 1], numClasses: 3, seed: 9 },
];
const tinyCnn: [ModelSpec, ModelBuildInfo] = [
  parseModelSpec({ type: 'cnn', conv: [{ filters: 2, kernel_size: 3 }], pool: 2, dense: [4], activation: 'tanh' }),
  { inputShape: [6, 6, 1], numClasses: 3, seed: 9 },
];

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return m;
}

describe('GradientComputer.computeGradients: finite differences', () => {
  // float32 central differences with eps 1e-2: loss rounding ~1e-7 / 2e-2 ~ 1e-5, truncation
  // O(eps^2) ~ 1e-4 for these smooth (tanh) nets. Tolerance per coordinate: 5e-4 + 1% relative.
  // The directional derivative along a random direction must agree to 1%.
  for (const [label, [spec, info]] of [['mlp', tinyMlp], ['cnn', tinyCnnNoPool], ['cnn+maxpool', tinyCnn]] as const) {
    it(`matches central differences on a tiny ${label}`, () => {
      const gc = GradientComputer.create(spec, info);
      const { xs, ys } = batch(6, info.inputShape, info.numClasses, 3);
      const p0 = gc.getParams();
      const { grads, loss } = gc.computeGradients(xs, ys);
      expect(loss).toBeCloseTo(gc.evaluate(xs, ys).loss, 5);
      // Max pooling is piecewise: a step of 1e-2 can switch the arg-max, so it gets a smaller one.
      const eps = label === 'cnn+maxpool' ? 2e-3 : 1e-2;
      const lossAt = (p: Float32Array): number => {
        gc.setParams(p);
        return gc.evaluate(xs, ys).loss;
      };
      let nonZero = 0;
      for (let i = 0; i < p0.length; i++) {
        const plus = p0.slice();
        const minus = p0.slice();
        plus[i] = (plus[i] ?? 0) + eps;
        minus[i] = (minus[i] ?? 0) - eps;
        const fd = (lossAt(plus) - lossAt(minus)) / (2 * eps);
        const g = grads[i] ?? Number.NaN;
        expect(Math.abs(fd - g), `param ${i}: fd ${fd} vs grad ${g}`).toBeLessThanOrEqual(5e-4 + 1e-2 * Math.abs(fd));
        if (Math.abs(g) > 1e-3) nonZero++;
      }
      expect(nonZero).toBeGreaterThan(p0.length / 2);

      const rnd = lcg(77);
      const dir = Float32Array.from({ length: p0.length }, rnd);
      const along = (t: number): Float32Array => p0.map((v, i) => v + t * (dir[i] ?? 0));
      const fdDir = (lossAt(along(eps)) - lossAt(along(-eps))) / (2 * eps);
      const gDir = grads.reduce((s, g, i) => s + g * (dir[i] ?? 0), 0);
      expect(Math.abs(fdDir - gDir)).toBeLessThanOrEqual(1e-2 * Math.abs(gDir));
      tf.dispose([xs, ys]);
      gc.dispose();
    });
  }
});

describe('GradientComputer: DDP equivalence', () => {
  for (const [label, [spec, info]] of [['mlp', tinyMlp], ['cnn', tinyCnn]] as const) {
    it(`${label}: gradient of the batch-8 mean == 3/8 * grad(slice 3) + 5/8 * grad(slice 5) within 1e-5`, () => {
      const gc = GradientComputer.create(spec, info);
      const { xs, ys } = batch(8, info.inputShape, info.numClasses, 4);
      const full = gc.computeGradients(xs, ys);
      const [xa, xb] = tf.split(xs, [3, 5]);
      const [ya, yb] = tf.split(ys, [3, 5]);
      if (!xa || !xb || !ya || !yb) throw new Error('split failed');
      const a = gc.computeGradients(xa, ya);
      const b = gc.computeGradients(xb, yb);
      const combined = a.grads.map((g, i) => (3 / 8) * g + (5 / 8) * (b.grads[i] ?? 0));
      expect(maxAbsDiff(full.grads, combined)).toBeLessThanOrEqual(1e-5);
      expect(full.loss).toBeCloseTo((3 / 8) * a.loss + (5 / 8) * b.loss, 5);
      expect(full.accuracy).toBeCloseTo((3 / 8) * a.accuracy + (5 / 8) * b.accuracy, 10);
      // Not a tautology: the slices' gradients genuinely differ.
      expect(maxAbsDiff(a.grads, b.grads)).toBeGreaterThan(1e-3);
      tf.dispose([xs, ys, xa, xb, ya, yb]);
      gc.dispose();
    });
  }
});

describe('GradientComputer: SGD from flat gradients == tfjs optimizer', () => {
  it('reproduces model.compile({ optimizer: tf.train.sgd }) + trainOnBatch over 5 steps within 1e-5', async () => {
    const [spec, info] = tinyCnn;
    const lr = 0.5;
    const gc = GradientComputer.create(spec, info);
    const reference = buildModel(spec, info);
    reference.compile({ optimizer: tf.train.sgd(lr), loss: softmaxCrossEntropyLoss });
    const layout = layoutOfModel(reference);
    const start = gc.getParams();
    expect(maxAbsDiff(start, flattenWeights(reference, layout))).toBe(0);
    for (let step = 0; step < 5; step++) {
      const { xs, ys } = batch(8, info.inputShape, info.numClasses, 100 + step);
      const { grads } = gc.computeGradients(xs, ys);
      gc.setParams(gc.getParams().map((p, i) => p - lr * (grads[i] ?? 0)));
      await reference.trainOnBatch(xs, ys);
      tf.dispose([xs, ys]);
    }
    const ours = gc.getParams();
    expect(maxAbsDiff(ours, flattenWeights(reference, layout))).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(ours, start)).toBeGreaterThan(1e-2);
    reference.optimizer.dispose();
    reference.dispose();
    gc.dispose();
  });
});

describe('GradientComputer: tensor ownership', () => {
  it('numTensors is identical after step 10 and step 200 of computeGradients + setParams', () => {
    const [spec, info] = tinyCnn;
    const gc = GradientComputer.create(spec, info);
    const { xs, ys } = batch(4, info.inputShape, info.numClasses, 1);
    let atStep10 = -1;
    for (let step = 1; step <= 200; step++) {
      const { grads } = gc.computeGradients(xs, ys);
      gc.setParams(gc.getParams().map((p, i) => p - 0.01 * (grads[i] ?? 0)));
      if (step === 10) atStep10 = tf.memory().numTensors;
    }
    expect(atStep10).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(atStep10);
    const beforeEval = tf.memory().numTensors;
    gc.evaluate(xs, ys, 3);
    expect(tf.memory().numTensors).toBe(beforeEval);
    tf.dispose([xs, ys]);
    const beforeDispose = tf.memory().numTensors;
    gc.dispose();
    expect(tf.memory().numTensors).toBe(beforeDispose - gc.layout.entries.length);
  });
});

describe('GradientComputer: params and validation', () => {
  it('same seed gives bit-identical params; different seeds differ', () => {
    const [spec, info] = tinyCnn;
    const a = GradientComputer.create(spec, info);
    const b = GradientComputer.create(spec, info);
    const c = GradientComputer.create(spec, { ...info, seed: info.seed + 1 });
    const bytes = (g: GradientComputer): Buffer => Buffer.from(g.getParams().buffer);
    expect(bytes(a).equals(bytes(b))).toBe(true);
    expect(bytes(a).equals(bytes(c))).toBe(false);
    [a, b, c].forEach((g) => g.dispose());
  });

  it('returns a fresh gradient array each call, sized to the layout', () => {
    const [spec, info] = tinyMlp;
    const gc = GradientComputer.create(spec, info);
    const { xs, ys } = batch(4, info.inputShape, info.numClasses, 2);
    const first = gc.computeGradients(xs, ys).grads;
    const copy = first.slice();
    const second = gc.computeGradients(xs, ys).grads;
    expect(second).not.toBe(first);
    expect(first.length).toBe(gc.layout.totalSize);
    expect(Array.from(first)).toEqual(Array.from(copy));
    tf.dispose([xs, ys]);
    gc.dispose();
  });

  it('evaluate in uneven batches equals one full batch', () => {
    const [spec, info] = tinyMlp;
    const gc = GradientComputer.create(spec, info);
    const { xs, ys } = batch(10, info.inputShape, info.numClasses, 8);
    const whole = gc.evaluate(xs, ys, 100);
    const pieces = gc.evaluate(xs, ys, 3);
    expect(pieces.loss).toBeCloseTo(whole.loss, 5);
    expect(pieces.accuracy).toBe(whole.accuracy);
    expect(whole.accuracy).toBeGreaterThanOrEqual(0);
    tf.dispose([xs, ys]);
    gc.dispose();
  });

  it('evaluate counts the confusion matrix (row = true, column = predicted) of the arg-max logits, in any batching; its trace is the hits', () => {
    const [spec, info] = tinyMlp;
    const gc = GradientComputer.create(spec, info);
    gc.setParams(Float32Array.from({ length: gc.layout.totalSize }, lcg(11)).map((v) => v * 3));
    const n = 41;
    const { xs, ys } = batch(n, info.inputShape, info.numClasses, 6);
    // The reference reads the logits back (the evaluation itself never does).
    const logits = tf.tidy(() => gc.model.apply(xs, { training: false }) as tf.Tensor).arraySync() as number[][];
    const labels = (ys.arraySync() as number[][]).map((row) => row.indexOf(1));
    const expected = Array.from({ length: info.numClasses }, () => new Array<number>(info.numClasses).fill(0));
    logits.forEach((row, i) => expected[labels[i]!]![row.indexOf(Math.max(...row))]! += 1);
    for (const batchSize of [n, 7, 1]) {
      const r = gc.evaluate(xs, ys, batchSize);
      expect(r.confusion).toEqual(expected);
      const trace = r.confusion.reduce((a, row, t) => a + row[t]!, 0);
      expect(r.accuracy).toBe(trace / n);
    }
    // Every true class and more than one predicted class occur, so the check is not trivial.
    expect(expected.every((row) => row.some((v) => v > 0))).toBe(true);
    expect(new Set(logits.map((row) => row.indexOf(Math.max(...row)))).size).toBeGreaterThan(1);
    tf.dispose([xs, ys]);
    gc.dispose();
  });

  it('rejects wrong param lengths, mismatched batches and use after dispose', () => {
    const [spec, info] = tinyMlp;
    const gc = GradientComputer.create(spec, info);
    expect(() => gc.setParams(new Float32Array(3))).toThrow(`params have 3 values, expected ${gc.layout.totalSize}`);
    const { xs, ys } = batch(4, info.inputShape, info.numClasses, 2);
    const ys3 = tf.slice(ys, 0, 3);
    expect(() => gc.computeGradients(xs, ys3)).toThrow(/4 inputs but 3 labels/);
    gc.dispose();
    expect(() => gc.getParams()).toThrow(CrowdtrainError);
    tf.dispose([xs, ys, ys3]);
  });
});
