import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { FastConv2D } from '../../../core/models/fast-conv2d.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function maxAbs(t: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(t)).dataSync()[0] ?? Number.NaN);
}

// Geometry cases: odd sizes, strides that do not divide, both paddings, multi-channel input.
const cases = [
  { h: 6, w: 6, cin: 1, k: 3, s: 1, padding: 'valid' },
  { h: 7, w: 5, cin: 2, k: 3, s: 2, padding: 'valid' },
  { h: 7, w: 8, cin: 3, k: 2, s: 3, padding: 'same' },
  { h: 5, w: 5, cin: 2, k: 5, s: 1, padding: 'same' },
  { h: 9, w: 9, cin: 1, k: 1, s: 2, padding: 'valid' },
] as const;

describe('FastConv2D', () => {
  for (const c of cases) {
    it(`equals conv2d + bias + relu, forward and gradients (${JSON.stringify(c)}) within 1e-5`, () => {
      const filters = 4;
      const layer = new FastConv2D({
        name: `pc_${c.h}_${c.w}_${c.k}_${c.s}_${c.padding}`,
        filters,
        kernelSize: c.k,
        strides: c.s,
        padding: c.padding,
        activation: 'relu',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }),
      });
      const x = tf.randomUniform([2, c.h, c.w, c.cin], -1, 1, 'float32', 5);
      const dy = tf.randomUniform([2, ...layer.computeOutputShape([2, c.h, c.w, c.cin]).slice(1)] as number[], -1, 1, 'float32', 6);
      layer.apply(x); // builds the weights
      const [kernel, bias] = layer.trainableWeights.map((v) => v.read());
      if (!kernel || !bias) throw new Error('weights missing');
      const b = tf.randomUniform(bias.shape, -0.5, 0.5, 'float32', 7);
      layer.trainableWeights[1]?.write(b);

      const ours = (xx: tf.Tensor, kk: tf.Tensor, bb: tf.Tensor): tf.Scalar => {
        layer.trainableWeights[0]?.write(kk);
        layer.trainableWeights[1]?.write(bb);
        return tf.sum(tf.mul(layer.apply(xx) as tf.Tensor, dy));
      };
      const reference = (xx: tf.Tensor, kk: tf.Tensor, bb: tf.Tensor): tf.Scalar =>
        tf.sum(tf.mul(tf.relu(tf.add(tf.conv2d(xx as tf.Tensor4D, kk as tf.Tensor4D, c.s, c.padding), bb)), dy));

      const k0 = kernel.clone();
      const b0 = bias.clone();
      const refOut = tf.relu(tf.add(tf.conv2d(x as tf.Tensor4D, k0 as tf.Tensor4D, c.s, c.padding), b0));
      const ourOut = layer.apply(x) as tf.Tensor;
      expect(ourOut.shape).toEqual(refOut.shape);
      expect(maxAbs(tf.sub(ourOut, refOut))).toBeLessThanOrEqual(1e-5);
      expect(maxAbs(refOut)).toBeGreaterThan(0.1);

      const refGrads = tf.grads((xx, kk, bb) => reference(xx, kk, bb))([x, k0, b0]);
      const layerGrads = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, dy)), [
        layer.trainableWeights[0]?.read() as tf.Variable,
        layer.trainableWeights[1]?.read() as tf.Variable,
      ]);
      const inputGrad = tf.grad((xx: tf.Tensor) => ours(xx, k0, b0))(x);
      const nameOf = (i: number): string => (layer.trainableWeights[i]?.read() as tf.Variable).name;
      const gK = layerGrads.grads[nameOf(0)];
      const gB = layerGrads.grads[nameOf(1)];
      if (!gK || !gB || !refGrads[0] || !refGrads[1] || !refGrads[2]) throw new Error('missing grads');
      expect(maxAbs(tf.sub(gK, refGrads[1]))).toBeLessThanOrEqual(1e-5);
      expect(maxAbs(tf.sub(gB, refGrads[2]))).toBeLessThanOrEqual(1e-5);
      expect(maxAbs(tf.sub(inputGrad, refGrads[0]))).toBeLessThanOrEqual(1e-5);
      expect(maxAbs(refGrads[1])).toBeGreaterThan(1e-3);
      tf.dispose([x, dy, b, k0, b0, refOut, ourOut, ...refGrads, gK, gB, inputGrad, layerGrads.value]);
      layer.dispose();
    });
  }

  it('computes the output shape like conv2d', () => {
    const layer = new FastConv2D({
      name: 'shape_probe', filters: 8, kernelSize: 5, strides: 2, padding: 'same', activation: 'tanh',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
    });
    expect(layer.computeOutputShape([null, 28, 28, 1])).toEqual([null, 14, 14, 8]);
  });
});
