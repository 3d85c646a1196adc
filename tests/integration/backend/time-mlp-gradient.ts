/**
 * Times one gradient of a tiny MLP (batch 64, 784-128-10, relu, softmax cross-entropy) on one
 * backend; the numbers in docs/backends.md come from here. Each backend runs in its own process:
 *   node --import tsx tests/integration/backend/time-mlp-gradient.ts cpu|wasm|webgpu|auto [iterations]
 * (webgpu on a machine without a GPU: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers every op's gradient with tfjs-core
import { parseBackendRequest, selectBackend } from '../../../worker-node/backend/select-backend.ts';

async function main(): Promise<void> {
  const choice = await selectBackend(parseBackendRequest(process.argv[2] ?? 'auto'), { needsConvBackprop: false });
  const iterations = Number(process.argv[3] ?? 20);
  const x = tf.randomUniform([64, 784], 0, 1, 'float32', 1);
  const labels = tf.oneHot(tf.randomUniform([64], 0, 10, 'int32', 2), 10);
  const w1 = tf.randomNormal([784, 128], 0, 0.05, 'float32', 3);
  const b1 = tf.zeros([128]);
  const w2 = tf.randomNormal([128, 10], 0, 0.05, 'float32', 4);
  const b2 = tf.zeros([10]);
  const gradient = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => {
    const h = tf.relu(tf.add(tf.matMul(x as tf.Tensor2D, a as tf.Tensor2D), b));
    const logits = tf.add(tf.matMul(h, c as tf.Tensor2D), d);
    return tf.losses.softmaxCrossEntropy(labels, logits);
  });
  const step = async (): Promise<number> => {
    const t0 = performance.now();
    const grads = gradient([w1, b1, w2, b2]);
    await Promise.all(grads.map((g) => g.data())); // read back: includes GPU sync and download
    tf.dispose(grads);
    return performance.now() - t0;
  };
  for (let i = 0; i < 3; i++) await step();
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) times.push(await step());
  times.sort((p, q) => p - q);
  const median = times[Math.floor(times.length / 2)]!;
  tf.dispose([x, labels, w1, b1, w2, b2]);
  console.log(JSON.stringify({ backend: choice.backend, device: choice.device, iterations, medianMs: Number(median.toFixed(2)), minMs: Number(times[0]!.toFixed(2)) }));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
