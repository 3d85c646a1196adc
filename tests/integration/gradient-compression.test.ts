import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterEach, describe, expect, it } from 'vitest';
import { validateRunConfig, type RunConfigInput } from '../../core/config/run-config.ts';
import { decodeGradientInto, encodeGradient, type GradientCompression } from '../../core/codec/gradient-compression.ts';
import { loadDataset } from '../../core/data/dataset-spec.ts';
import { datasetBatch } from '../../core/data/dataset.ts';
import { GradientComputer } from '../../core/models/gradient-computer.ts';
import { createDdpUpdateRule } from '../../core/run/ddp/ddp-update-rule.ts';
import { readCheckpointFile } from '../../coordinator/run/checkpoint-file.ts';
import type { AppliedUpdate } from '../../coordinator/run/run-session.ts';
import { startTestCoordinator, syntheticConfig, waitForWorkers, type TestCoordinator } from './support/harness.ts';
import { maxRelativeDifference, trainSingleProcess } from './support/reference-training.ts';
import { joinZeroGradientClient } from './support/zero-gradient-client.ts';

let t: TestCoordinator | null = null;
afterEach(async () => {
  await t?.cleanup();
  t = null;
});

const WORKERS = 3;
const UPDATES = 12;

function config(compression: GradientCompression): RunConfigInput {
  return syntheticConfig({ total_updates: UPDATES, gradient_compression: compression, optimizer: { name: 'sgd', lr: 0.1, momentum: 0.9 }, slice_balance: 'equal' });
}

function l2Distance(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += ((a[i] ?? 0) - (b[i] ?? 0)) ** 2;
  return Math.sqrt(s);
}

/**
 * Replays the fleet's updates in this process: each worker's slice gradient, encoded and decoded
 * the way the wire does, then DDP's own update rule (weighted mean, clip, LR, optimizer): this test
 * checks the compression path, not the rule (ddp-equivalence.test.ts checks that against tfjs).
 */
async function replayWithCompression(input: RunConfigInput, updates: AppliedUpdate[]): Promise<Float32Array> {
  await tf.setBackend('cpu');
  const cfg = validateRunConfig(input);
  const { train } = await loadDataset(cfg.dataset);
  const gc = GradientComputer.create(cfg.model, { inputShape: train.inputShape, numClasses: train.numClasses, seed: cfg.seed });
  const params = gc.getParams();
  const rule = createDdpUpdateRule(cfg, params.length);
  try {
    for (const u of updates) {
      gc.setParams(params);
      const parts = u.slices.map((s) => {
        const { xs, ys } = datasetBatch(train, s.indices);
        const { grads } = gc.computeGradients(xs, ys);
        tf.dispose([xs, ys]);
        const values = decodeGradientInto(encodeGradient(grads, cfg.gradient_compression), cfg.gradient_compression, new Float32Array(grads.length));
        return { workerId: s.workerId, values, sampleCount: s.indices.length, loss: 0, accuracy: 0 };
      });
      rule.apply(params, parts, u.step);
    }
  } finally {
    gc.dispose();
  }
  return params;
}

describe('gradient compression: workers send 16-bit gradients, the coordinator trains in float32', () => {
  for (const compression of ['fp16', 'bf16'] as const) {
    it(`${compression}: half the bytes per update; the coordinator applies exactly the decoded gradients (<= 1e-4 of an in-process replay)`, async () => {
      const cfg = config(compression);
      t = await startTestCoordinator();
      await t.joinWorkers(WORKERS);
      const updates: AppliedUpdate[] = [];
      t.coordinator.events.on('update', (u) => updates.push(u));
      const session = await t.coordinator.startRun(validateRunConfig({ ...cfg, min_workers: WORKERS }));
      expect((await session.done).status).toBe('finished');
      const ckpt = await t.coordinator.store.findCheckpoint(session.runId, 'latest');
      const dist = (await readCheckpointFile(ckpt!.path, ckpt!.sha256)).params;

      const bytesIn = (await t.coordinator.store.getMetricHistory(session.runId, 'bytes_in')).map((p) => p.value);
      const bytesOut = (await t.coordinator.store.getMetricHistory(session.runId, 'bytes_out')).map((p) => p.value);
      expect(bytesIn).toHaveLength(UPDATES);
      // Every worker sends 2 bytes per parameter; parameters still go out as float32.
      for (const b of bytesIn) expect(b).toBe(WORKERS * dist.length * 2);
      expect(bytesOut[1]).toBe(WORKERS * dist.length * 4);

      expect(updates).toHaveLength(UPDATES);
      const replay = await replayWithCompression(cfg, updates);
      expect(maxRelativeDifference(dist, replay)).toBeLessThanOrEqual(1e-4);
      // ...and the compression really was applied: float32 training ends measurably elsewhere.
      const float32 = await trainSingleProcess(cfg, WORKERS, UPDATES);
      const init = await trainSingleProcess(cfg, WORKERS, 0);
      const drift = l2Distance(dist, float32.params) / l2Distance(float32.params, init.params);
      // Far beyond the 1e-4 that float32 workers reach (ddp-equivalence.test.ts): the gradients were rounded.
      expect(maxRelativeDifference(dist, float32.params)).toBeGreaterThan(1e-2);
      // A loose sanity bound: it still trains the same model (rounding errors of 2^-11 or 2^-8 per
      // value grow through the nonlinear training dynamics, so no tight bound holds here).
      expect(drift).toBeLessThan(0.25);
    });
  }

  /** The update_rejected events of a rogue worker next to 2 honest ones in a 4-update fp16 run. */
  async function rejectionsOfRogue(name: string, gradientBytes?: (paramCount: number) => Uint8Array): Promise<string[]> {
    t = await startTestCoordinator();
    await t.joinWorkers(2);
    const rogue = await joinZeroGradientClient(t.coordinator.url, t.token, name, gradientBytes);
    try {
      await waitForWorkers(t.coordinator, 3);
      const session = await t.coordinator.startRun(validateRunConfig({ ...config('fp16'), total_updates: 4, min_workers: 3 }));
      expect((await session.done).status).toBe('finished');
      const events = await t.coordinator.store.listEvents(session.runId);
      return events.filter((e) => e.kind === 'update_rejected' && e.workerId === rogue.workerId).map((e) => JSON.stringify(e.detail));
    } finally {
      rogue.close();
    }
  }

  it('an fp16 gradient that overflowed (Infinity) is rejected as NON_FINITE with the advice to use bf16', async () => {
    // 0x7c00 is +Infinity in binary16: what an encoder produces for a value beyond 65504.
    const rejected = await rejectionsOfRogue('overflowing-worker', (n) => new Uint8Array(new Uint16Array(n).fill(0x7c00).buffer));
    expect(rejected.length).toBeGreaterThan(0);
    expect(rejected[0]).toMatch(/NON_FINITE.*Infinity.*fp16 holds magnitudes up to 65504; use gradient_compression: bf16/);
  });

  it('a worker that sends float32 gradients to an fp16 run is rejected, naming the expected size and the compression', async () => {
    const rejected = await rejectionsOfRogue('float32-worker');
    expect(rejected.length).toBeGreaterThan(0);
    expect(rejected[0]).toMatch(/SHAPE_MISMATCH/);
    expect(rejected[0]).toMatch(/expected \d+ \(\d+ values, gradient_compression fp16\)/);
  });
});
