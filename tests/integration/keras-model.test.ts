import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { validateRunConfig } from '../../core/config/run-config.ts';
import { loadDataset } from '../../core/data/dataset-spec.ts';
import { GradientComputer } from '../../core/models/gradient-computer.ts';
import { exportTfjsModel } from '../../coordinator/registry/export-tfjs-model.ts';
import { readCheckpointFile } from '../../coordinator/run/checkpoint-file.ts';
import { startTestCoordinator, syntheticConfig, type TestCoordinator } from './support/harness.ts';
import { joinTestWorker, type TestWorker } from './support/test-worker.ts';

let t: TestCoordinator | null = null;
let workers: TestWorker[] = [];
afterEach(async () => {
  await Promise.all((t?.coordinator.activeRuns() ?? []).map((r) => r.stop('stopped', 'test cleanup')));
  for (const w of workers) await w.close();
  workers = [];
  await t?.cleanup();
  t = null;
});

/** The topology tfjs writes for a small MLP on the synthetic [12] samples, ending in a softmax. */
function tfjsTopology(): unknown {
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ inputShape: [12], units: 16, activation: 'relu', name: 'hidden' }));
  m.add(tfl.layers.dense({ units: 3, activation: 'softmax', name: 'out' }));
  const topology = m.toJSON(null, false);
  m.dispose();
  return topology;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('a run of a keras model spec', () => {
  it('trains a tfjs-written topology with 2 workers to finished with a falling loss; its checkpoint exports as a tfjs model that predicts the same logits', async () => {
    const config = validateRunConfig(
      syntheticConfig({
        name: 'keras-mlp',
        model: { type: 'keras', topology: tfjsTopology() },
        total_updates: 40,
        min_workers: 2,
        eval_every: 20,
        checkpoint_every: 20,
      }),
    );
    t = await startTestCoordinator();
    const { url } = t.coordinator;
    workers = await Promise.all([0, 1].map((i) => joinTestWorker({ url, token: t!.token, name: `keras${i}` })));
    const session = await t.coordinator.startRun(config);
    const outcome = await session.done;
    expect(outcome.status).toBe('finished');

    const loss = (await t.coordinator.store.getMetricHistory(session.runId, 'train_loss')).map((p) => p.value);
    expect(loss.length).toBeGreaterThanOrEqual(30);
    const [first, last] = [mean(loss.slice(0, 5)), mean(loss.slice(-5))];
    console.log(`keras run: train_loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
    expect(last).toBeLessThan(first * 0.8);
    const params = await t.coordinator.store.getParams(session.runId);
    expect(params['model.type']).toBe('keras');

    // The registry export of a keras-spec run: standard tfjs layers, the checkpoint's weights.
    const ckpt = await t.coordinator.store.findCheckpoint(session.runId, 'latest');
    expect(ckpt).not.toBeNull();
    const checkpoint = { path: ckpt!.path, sha256: ckpt!.sha256, step: ckpt!.step };
    const { modelJson, weights } = await exportTfjsModel({ modelName: 'keras-mlp', version: 1, sourceRunId: session.runId, config, checkpoint });
    expect(JSON.stringify(modelJson.modelTopology)).toContain('"hidden"');
    const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer;
    const loaded = await tfl.loadLayersModel(
      tf.io.fromMemory({ modelTopology: modelJson.modelTopology as tf.io.ModelArtifacts['modelTopology'], weightSpecs: modelJson.weightsManifest[0]!.weights as tf.io.WeightsManifestEntry[], weightData }),
    );
    const { test } = await loadDataset(config.dataset);
    const computer = GradientComputer.create(config.model, { inputShape: test.inputShape, numClasses: test.numClasses, seed: config.seed });
    computer.setParams((await readCheckpointFile(checkpoint.path, checkpoint.sha256)).params);
    const xs = tf.tensor(test.features.subarray(0, 10 * 12), [10, 12]);
    const exported = loaded.predict(xs) as tf.Tensor;
    const ours = computer.model.predict(xs) as tf.Tensor;
    const diff = tf.max(tf.abs(tf.sub(exported, ours))).dataSync()[0]!;
    expect(diff).toBeLessThanOrEqual(1e-6);
    tf.dispose([xs, exported, ours]);
    loaded.dispose();
    computer.dispose();
  });
});
