import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { Page } from 'playwright-core';
import { validateRunConfig, type RunConfigInput } from '../../core/config/run-config.ts';
import { loadDataset } from '../../core/data/dataset-spec.ts';
import { datasetBatch } from '../../core/data/dataset.ts';
import { GradientComputer } from '../../core/models/gradient-computer.ts';
import { readCheckpointFile } from '../../coordinator/run/checkpoint-file.ts';
import type { AppliedUpdate } from '../../coordinator/run/run-session.ts';
import { syntheticConfig } from '../integration/support/harness.ts';
import { chromiumAvailable, waitForTabState, waitForWorkerCount } from './support/browser-harness.ts';
import { e2eSuite } from './support/e2e-suite.ts';
import { requireChromium } from '../support/require-dependency.ts';

const hasChromium = await chromiumAvailable();

/**
 * Per parameter tensor: max |g_webgpu - g_cpu| / max |g_cpu| <= 1e-5 (measured: under 5e-7). WebGPU reduces in a
 * different order (and may fuse multiply-adds), so float32 sums differ in the last bits;
 * 1e-5 of the tensor's largest gradient is far above that and far below any real kernel bug.
 */
const GRADIENT_TOLERANCE = 1e-5;

const suite = e2eSuite({ webgpu: true });
let tab: Page;
beforeAll(async () => {
  if (!hasChromium) return;
  tab = await suite.browser.newPage();
  await tab.goto(suite.env.contributeUrl({ backend: 'webgpu', name: 'parity' }));
  const snap = await waitForTabState(tab, ['waiting']);
  expect(snap.backend).toBe('webgpu');
  await waitForWorkerCount(suite.env.coordinator, 1);
});

/**
 * Trains one plain-SGD update with lr 1 on the WebGPU tab alone, so the tab's gradient is
 * exactly `initial params - params after the update`, and compares it tensor by tensor with
 * the cpu backend's gradient on the same samples.
 */
async function compareTabGradient(over: Partial<RunConfigInput>): Promise<Record<string, number>> {
  const input = syntheticConfig({ ...over, optimizer: { name: 'sgd', lr: 1 }, total_updates: 1, min_workers: 1, eval_every: 100 });
  const config = validateRunConfig(input);
  const updates: AppliedUpdate[] = [];
  const onUpdate = (u: AppliedUpdate) => updates.push(u);
  suite.env.coordinator.events.on('update', onUpdate);
  const session = await suite.env.coordinator.startRun(config);
  const outcome = await session.done;
  suite.env.coordinator.events.off('update', onUpdate);
  expect(outcome.status).toBe('finished');
  const ckpt = await suite.env.coordinator.store.findCheckpoint(session.runId, 'latest');
  const { params: after } = await readCheckpointFile(ckpt!.path, ckpt!.sha256);
  const indices = updates[0]?.slices.flatMap((s) => s.indices) ?? [];
  expect(indices).toHaveLength(config.batch_size);
  await waitForTabState(tab, ['finished']);

  await tf.setBackend('cpu');
  const { train } = await loadDataset(config.dataset);
  const gc = GradientComputer.create(config.model, { inputShape: train.inputShape, numClasses: train.numClasses, seed: config.seed });
  const initial = gc.getParams();
  const { xs, ys } = datasetBatch(train, indices);
  const { grads: cpuGrads } = gc.computeGradients(xs, ys);
  tf.dispose([xs, ys]);
  const errors: Record<string, number> = {};
  for (const entry of gc.layout.entries) {
    let worst = 0;
    let scale = 0;
    for (let i = entry.offset; i < entry.offset + entry.size; i++) {
      const tabGrad = initial[i]! - after[i]!;
      worst = Math.max(worst, Math.abs(tabGrad - cpuGrads[i]!));
      scale = Math.max(scale, Math.abs(cpuGrads[i]!));
    }
    errors[entry.name] = worst / Math.max(scale, 1e-6);
  }
  gc.dispose();
  return errors;
}

describe.skipIf(!hasChromium)(requireChromium(hasChromium).title('WebGPU tab gradients equal the cpu backend for every layer type of the built-in models'), () => {
  it(`MLP: dense + relu (per-tensor relative error <= ${GRADIENT_TOLERANCE})`, async () => {
    const errors = await compareTabGradient({ model: { type: 'mlp', hidden: [16, 8] }, batch_size: 16 });
    console.log('mlp gradient errors', errors);
    expect(Object.keys(errors)).toEqual(['dense_0/kernel', 'dense_0/bias', 'dense_1/kernel', 'dense_1/bias', 'logits/kernel', 'logits/bias']);
    for (const [name, err] of Object.entries(errors)) expect(err, name).toBeLessThanOrEqual(GRADIENT_TOLERANCE);
  });

  it(`CNN: reshape + conv (valid and same padding, stride 2) + max pool + flatten + dense (per-tensor relative error <= ${GRADIENT_TOLERANCE})`, async () => {
    const errors = await compareTabGradient({
      model: { type: 'cnn', conv: [{ filters: 4, kernel_size: 3 }, { filters: 3, kernel_size: 3, stride: 2, padding: 'same' }], pool: 2, dense: [8] },
      dataset: { name: 'synthetic', shape: [144], classes: 3, train_size: 64, test_size: 16, seed: 3 },
      batch_size: 8,
    });
    console.log('cnn gradient errors', errors);
    expect(Object.keys(errors)).toContain('conv_1/kernel');
    for (const [name, err] of Object.entries(errors)) expect(err, name).toBeLessThanOrEqual(GRADIENT_TOLERANCE);
  });
});
