import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Browser } from 'playwright-core';
import type { Coordinator } from '../../../coordinator/coordinator.ts';
import { loadDataset } from '../../../core/data/dataset-spec.ts';
import { chromiumAvailable, launchChromium, startE2eCoordinator, type E2eCoordinator } from '../../e2e/support/browser-harness.ts';
import { requireChromium } from '../../support/require-dependency.ts';

const hasChromium = await chromiumAvailable();
const screenshotDir = process.env.CROWDTRAIN_SCREENSHOTS_DIR ?? path.resolve('tests/e2e/screenshots');
/** Test digits scored in Node against the run's own evaluation. */
const SCORED_DIGITS = 500;

describe('registry round trip: MNIST run -> register -> export as tfjs model -> predictions', () => {
  let env: E2eCoordinator;
  let coordinator: Coordinator;
  const adminToken = randomBytes(24).toString('base64url');
  let runId = '';
  let evalAccuracy = 0;

  const api = (method: string, route: string, body?: unknown) =>
    fetch(`${coordinator.url}${route}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  beforeAll(async () => {
    env = await startE2eCoordinator({ adminToken });
    coordinator = env.coordinator;
    await env.joinNodeWorkers(2, 'wasm');
    const started = await api('POST', '/api/v1/runs', {
      name: 'mnist-mlp-export',
      experiment: 'registry',
      seed: 3,
      model: { type: 'mlp', hidden: [64] },
      dataset: { name: 'mnist', train_size: 4000, test_size: 1000 },
      optimizer: { name: 'adam', lr: 0.002 },
      batch_size: 32,
      total_updates: 250,
      eval_every: 250,
      checkpoint_every: 250,
    });
    expect(started.status).toBe(201);
    runId = ((await started.json()) as { run: { id: string } }).run.id;
    const outcome = await coordinator.activeSession(runId)!.done;
    expect(outcome.status).toBe('finished');
    evalAccuracy = outcome.evalAccuracy ?? 0;
    expect(evalAccuracy).toBeGreaterThan(0.8);
  }, 280_000);

  afterAll(async () => {
    await env?.cleanup();
  });

  it('the exported model.json + weights.bin predict exactly like the run evaluated itself', async () => {
    const reg = await api('POST', '/api/v1/models/mnist-mlp/versions', { run_id: runId, checkpoint: 'latest', aliases: ['champion'] });
    expect(reg.status).toBe(201);
    const jsonRes = await fetch(`${coordinator.url}/api/v1/models/mnist-mlp/versions/champion/model.json`);
    expect(jsonRes.status).toBe(200);
    const modelJson = (await jsonRes.json()) as { modelTopology: object; weightsManifest: [{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }]; userDefinedMetadata: { sourceRunId: string; sourceStep: number } };
    expect(modelJson.weightsManifest[0].paths).toEqual(['weights.bin']);
    expect(modelJson.userDefinedMetadata).toMatchObject({ sourceRunId: runId, sourceStep: 250 });
    const weightsRes = await fetch(`${coordinator.url}/api/v1/models/mnist-mlp/versions/1/weights.bin`);
    expect(weightsRes.status).toBe(200);
    const weights = await weightsRes.arrayBuffer();
    expect(weights.byteLength).toBe((784 * 64 + 64 + 64 * 10 + 10) * 4);

    const model = await tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs: modelJson.weightsManifest[0].weights, weightData: weights }));
    const { test } = await loadDataset({ name: 'mnist', test_size: 1000 });
    const n = SCORED_DIGITS;
    const predicted = tf.tidy(() => tf.argMax(model.predict(tf.tensor(test.features.subarray(0, n * 784), [n, ...test.inputShape])) as tf.Tensor, -1).dataSync());
    let correct = 0;
    for (let i = 0; i < n; i++) if (predicted[i] === test.labels[i]) correct += 1;
    // The run evaluated 1000 test digits; the first 500 must score about the same.
    expect(correct / n).toBeGreaterThan(evalAccuracy - 0.06);
    model.dispose();
    const missing = await fetch(`${coordinator.url}/api/v1/models/mnist-mlp/versions/7/model.json`);
    expect(missing.status).toBe(404);
  });

  it.skipIf(!hasChromium)(requireChromium(hasChromium).title('the "try it" page loads the exported model in the tab and predicts a real test digit drawn on its canvas'), async () => {
    const { test } = await loadDataset({ name: 'mnist', test_size: 1000 });
    const digit = 0;
    const pixels = Array.from(test.features.subarray(digit * 784, (digit + 1) * 784));
    const label = test.labels[digit];
    let browser: Browser | undefined;
    try {
      browser = await launchChromium({ webgpu: false });
      const page = await browser.newPage();
      await page.goto(`${coordinator.url}/registry/mnist-mlp/try?version=champion`);
      await expect.poll(() => page.getByTestId('model-status').textContent(), { timeout: 30_000 }).toMatch(/model loaded: input \[28, 28, 1\]/);
      await page.evaluate((px) => {
        const big = document.getElementById('digit-canvas') as HTMLCanvasElement;
        const small = document.createElement('canvas');
        small.width = 28;
        small.height = 28;
        const sctx = small.getContext('2d')!;
        const img = sctx.createImageData(28, 28);
        px.forEach((v, i) => {
          const g = Math.round(v * 255);
          img.data.set([g, g, g, 255], i * 4);
        });
        sctx.putImageData(img, 0, 0);
        const ctx = big.getContext('2d')!;
        ctx.imageSmoothingEnabled = false;
        ctx.drawImage(small, 0, 0, big.width, big.height);
      }, pixels);
      await page.getByRole('button', { name: 'Predict' }).click();
      await expect.poll(() => page.getByTestId('prediction').textContent()).toBe(String(label));
      await mkdir(screenshotDir, { recursive: true });
      await page.screenshot({ path: path.join(screenshotDir, 'registry-try-it.png'), fullPage: true });
    } finally {
      await browser?.close();
    }
  });
});
