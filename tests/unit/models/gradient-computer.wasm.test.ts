import { describe, it, expect } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { GradientComputer } from '../../../core/models/gradient-computer.ts';
import { parseModelSpec } from '../../../core/models/model-spec.ts';
import type { ModelSpec } from '../../../core/models/model-spec.ts';

/** Loss, accuracy and gradients of one fixed batch on one backend. */
async function gradientsOn(backend: string, spec: ModelSpec): Promise<{ grads: Float32Array; loss: number }> {
  expect(await tf.setBackend(backend)).toBe(true);
  const gc = GradientComputer.create(spec, { inputShape: [12, 12, 1], numClasses: 4, seed: 3 });
  const xs = tf.randomUniform([6, 12, 12, 1], 0, 1, 'float32', 11);
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1, 2, 3, 1, 2], 'int32'), 4));
  const before = tf.memory().numTensors;
  const result = gc.computeGradients(xs, ys);
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([xs, ys]);
  gc.dispose();
  return result;
}

// Same spec, every backend: the wasm backend lacks Conv2DBackpropFilter, which FastConv2D avoids.
// Tolerance 1e-4 absolute: wasm (XNNPACK) and cpu sum in different orders in float32.
describe('GradientComputer on the wasm backend', () => {
  const specs = {
    mlp: parseModelSpec({ type: 'mlp', hidden: [16] }),
    cnn: parseModelSpec({ type: 'cnn', conv: [{ filters: 4, kernel_size: 3 }, { filters: 6, kernel_size: 3, stride: 2, padding: 'same' }], pool: 2, dense: [8] }),
  };
  for (const [label, spec] of Object.entries(specs)) {
    it(`${label}: gradients and loss match the cpu backend within 1e-4`, async () => {
      const cpu = await gradientsOn('cpu', spec);
      const wasm = await gradientsOn('wasm', spec);
      expect(wasm.grads.length).toBe(cpu.grads.length);
      let maxDiff = 0;
      for (let i = 0; i < cpu.grads.length; i++) maxDiff = Math.max(maxDiff, Math.abs((cpu.grads[i] ?? 0) - (wasm.grads[i] ?? 0)));
      expect(maxDiff).toBeLessThanOrEqual(1e-4);
      expect(Math.abs(cpu.loss - wasm.loss)).toBeLessThanOrEqual(1e-4);
      expect(cpu.grads.some((g) => Math.abs(g) > 1e-3)).toBe(true);
    });
  }
});
