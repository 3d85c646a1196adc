import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { buildModel, ModelSpecSchema, parseModelSpec, softmaxCrossEntropyLoss } from '../../../core/models/model-spec.ts';
import { flattenWeights, layoutOfModel } from '../../../core/codec/param-layout.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';
import { MNIST_DEFAULT_CNN_SPEC, MNIST_SMALL_CNN_SPEC } from '../../../core/models/mnist-model-specs.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function paramsOf(spec: unknown, seed: number, inputShape = [28, 28, 1]): Float32Array {
  const model = buildModel(parseModelSpec(spec), { inputShape, numClasses: 10, seed });
  const flat = flattenWeights(model, layoutOfModel(model));
  model.dispose();
  return flat;
}

describe('ModelSpecSchema', () => {
  it('fills mlp defaults', () => {
    expect(ModelSpecSchema.parse({ type: 'mlp' })).toEqual({ type: 'mlp', hidden: [128], activation: 'relu' });
  });

  it('fills cnn defaults per conv layer', () => {
    expect(ModelSpecSchema.parse({ type: 'cnn', conv: [{ filters: 8, kernel_size: 5 }] })).toEqual({
      type: 'cnn',
      conv: [{ filters: 8, kernel_size: 5, stride: 1, padding: 'valid' }],
      pool: 2,
      dense: [],
      activation: 'relu',
    });
  });

  it('rejects unknown types, unknown keys (typos), empty conv lists and bad numbers', () => {
    expect(ModelSpecSchema.safeParse({ type: 'rnn' }).success).toBe(false);
    expect(ModelSpecSchema.safeParse({ type: 'mlp', hiden: [3] }).success).toBe(false);
    expect(ModelSpecSchema.safeParse({ type: 'cnn', conv: [] }).success).toBe(false);
    expect(ModelSpecSchema.safeParse({ type: 'cnn', conv: [{ filters: 2.5, kernel_size: 3 }] }).success).toBe(false);
    expect(ModelSpecSchema.safeParse({ type: 'mlp', activation: 'gelu' }).success).toBe(false);
  });

  it('parseModelSpec throws INVALID_CONFIG naming the bad key', () => {
    let err: unknown;
    try {
      parseModelSpec({ type: 'cnn', conv: [{ filters: 0, kernel_size: 3 }] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CrowdtrainError);
    expect((err as CrowdtrainError).code).toBe('INVALID_CONFIG');
    expect((err as CrowdtrainError).message).toContain('conv.0.filters');
  });
});

describe('buildModel', () => {
  it('builds an mlp producing [n, numClasses] logits with fixed layer names', () => {
    const model = buildModel(parseModelSpec({ type: 'mlp', hidden: [16, 8] }), {
      inputShape: [4, 4],
      numClasses: 3,
      seed: 1,
    });
    expect(model.layers.map((l) => l.name)).toEqual(['flatten', 'dense_0', 'dense_1', 'logits']);
    expect(model.outputs[0]?.shape).toEqual([null, 3]);
    expect(model.countParams()).toBe(16 * 16 + 16 + 16 * 8 + 8 + 8 * 3 + 3);
    model.dispose();
  });

  it('builds a cnn with conv/pool blocks and reshapes a flat square input to an image', () => {
    const spec = parseModelSpec({ type: 'cnn', conv: [{ filters: 4, kernel_size: 5 }, { filters: 8, kernel_size: 5 }], dense: [12] });
    const model = buildModel(spec, { inputShape: [784], numClasses: 10, seed: 1 });
    expect(model.layers.map((l) => l.name)).toEqual([
      'to_image', 'conv_0', 'pool_0', 'conv_1', 'pool_1', 'flatten', 'dense_0', 'logits',
    ]);
    // 28 -conv5-> 24 -pool2-> 12 -conv5-> 8 -pool2-> 4: 4*4*8 = 128 features
    expect(model.layers[5]?.outputShape).toEqual([null, 128]);
    model.dispose();
  });

  it('rejects a non-square flat input for a cnn and bad class counts', () => {
    const spec = parseModelSpec({ type: 'cnn', conv: [{ filters: 4, kernel_size: 3 }] });
    expect(() => buildModel(spec, { inputShape: [10], numClasses: 10, seed: 1 })).toThrow(/got \[10\]/);
    expect(() => buildModel(spec, { inputShape: [28, 28, 1], numClasses: 1, seed: 1 })).toThrow(CrowdtrainError);
  });

  it('same seed gives bit-identical weights; different seeds differ (mlp and cnn)', () => {
    for (const spec of [{ type: 'mlp', hidden: [32] }, { type: 'cnn', conv: [{ filters: 4, kernel_size: 3 }], dense: [8] }]) {
      const a = paramsOf(spec, 7);
      const b = paramsOf(spec, 7);
      const c = paramsOf(spec, 8);
      expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
      expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(false);
      expect(a.some((v) => v !== 0)).toBe(true);
    }
  });

  it("'fast' and 'native' conv implementations share layout and initial weights and compute the same logits", () => {
    const spec = parseModelSpec({ type: 'cnn', conv: [{ filters: 3, kernel_size: 3, stride: 2 }, { filters: 4, kernel_size: 2, padding: 'same' }], pool: 0, dense: [5] });
    const base = { inputShape: [9, 9, 2], numClasses: 4, seed: 21 };
    const fast = buildModel(spec, { ...base, convImplementation: 'fast' });
    const native = buildModel(spec, { ...base, convImplementation: 'native' });
    expect(fast.layers[0]?.getClassName()).toBe('FastConv2D');
    expect(native.layers[0]?.getClassName()).toBe('Conv2D');
    const layout = layoutOfModel(fast);
    expect(layoutOfModel(native)).toEqual(layout);
    expect(Array.from(flattenWeights(native, layout))).toEqual(Array.from(flattenWeights(fast, layout)));
    const diff = tf.tidy(() => {
      const x = tf.randomUniform([3, 9, 9, 2], -1, 1, 'float32', 1);
      const a = fast.predict(x) as tf.Tensor;
      const b = native.predict(x) as tf.Tensor;
      return [tf.max(tf.abs(tf.sub(a, b))).dataSync()[0], tf.max(tf.abs(a)).dataSync()[0]];
    });
    expect(diff[0]).toBeLessThanOrEqual(1e-5);
    expect(diff[1]).toBeGreaterThan(1e-2);
    fast.dispose();
    native.dispose();
  });

  it('gives each layer its own initial kernel (derived seeds, not one shared stream)', () => {
    const model = buildModel(parseModelSpec({ type: 'mlp', hidden: [8, 8] }), { inputShape: [8], numClasses: 8, seed: 3 });
    const [k0, , k1] = model.trainableWeights.map((w) => Array.from(w.read().dataSync()));
    expect(k0).toHaveLength(64);
    expect(k0).not.toEqual(k1);
    model.dispose();
  });
});

describe('softmaxCrossEntropyLoss', () => {
  it('is the mean cross-entropy and stays finite for huge logits', () => {
    const loss = tf.tidy(() => {
      const labels = tf.tensor2d([[1, 0], [0, 1]]);
      const logits = tf.tensor2d([[0, 0], [1000, -1000]]);
      return softmaxCrossEntropyLoss(labels, logits).dataSync()[0];
    });
    // sample 0: ln 2; sample 1: 2000 (softmax would underflow to log(0))
    expect(loss).toBeCloseTo((Math.LN2 + 2000) / 2, 3);
  });
});

describe('MNIST model specs', () => {
  it('build to the documented parameter counts and produce 10 logits from 28x28x1', () => {
    for (const [spec, params] of [[MNIST_DEFAULT_CNN_SPEC, 18378], [MNIST_SMALL_CNN_SPEC, 5994]] as const) {
      const model = buildModel(spec, { inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
      expect(model.countParams()).toBe(params);
      expect(model.outputs[0]?.shape).toEqual([null, 10]);
      model.dispose();
    }
  });
});
