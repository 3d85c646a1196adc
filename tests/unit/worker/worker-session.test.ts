import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadDataset } from '../../../core/data/dataset-spec.ts';
import { datasetBatch } from '../../../core/data/dataset.ts';
import { encodeGradient } from '../../../core/codec/gradient-compression.ts';
import { GradientComputer } from '../../../core/models/gradient-computer.ts';
import { parseModelSpec } from '../../../core/models/model-spec.ts';
import { CHUNK_BYTES } from '../../../core/protocol/version.ts';
import { joinTestWorker, type TestWorker } from '../../integration/support/test-worker.ts';
import { FakeCoordinator, type FakeWorkerSocket } from './fake-coordinator.ts';

const model = parseModelSpec({ type: 'mlp', hidden: [8] });
const dataset = { name: 'synthetic' as const, shape: [6], classes: 3, train_size: 64, test_size: 8, seed: 2 };

let fake: FakeCoordinator | null = null;
let worker: TestWorker | null = null;
afterEach(async () => {
  await worker?.close();
  worker = null;
  await fake?.close();
  fake = null;
});
beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** The real worker loop (the shared test worker) joined to a fake coordinator the test scripts. */
async function start(): Promise<{ fake: FakeCoordinator; worker: TestWorker; socket: FakeWorkerSocket }> {
  fake = await FakeCoordinator.start();
  const hello = fake.hellos.next();
  worker = await joinTestWorker({ url: fake.url, token: 'unit-token', name: 'unit' });
  return { fake, worker, socket: (await hello).socket };
}

function directGradient(gc: GradientComputer, train: Awaited<ReturnType<typeof loadDataset>>['train'], indices: Uint32Array) {
  const { xs, ys } = datasetBatch(train, indices);
  try {
    return gc.computeGradients(xs, ys);
  } finally {
    tf.dispose([xs, ys]);
  }
}

describe('WorkerSession (the shared worker loop), over a real socket', () => {
  it('answers a step with the gradient of its slice, in chunks, and leaks no tensor between step 10 and step 200', async () => {
    const { fake, worker, socket } = await start();
    const { train } = await loadDataset(dataset);
    const ref = GradientComputer.create(model, { inputShape: [6], numClasses: 3, seed: 9 });
    const ready = await fake.assign(socket, { runId: 'r1', name: 'x', seed: 9, model, dataset, paramCount: ref.layout.totalSize, gradientCompression: 'none' });
    expect(ready).toMatchObject({ ok: true, runId: 'r1', paramCount: ref.layout.totalSize, datasetSize: 64 });

    const params = ref.getParams();
    let tensorsAt10 = -1;
    for (let step = 0; step < 200; step++) {
      const k = step % params.length;
      params[k] = (params[k] ?? 0) + 0.01;
      fake.sendParams(socket, 'r1', step, params);
      const indices = new Uint32Array([step % 64, (step * 7) % 64, (step * 13 + 1) % 64]);
      fake.step(socket, { runId: 'r1', step, epoch: 0, paramsVersion: step, indices });
      const c = await fake.commits.next();
      expect(c.commit).toMatchObject({ runId: 'r1', step, paramsVersion: step, sampleCount: 3 });
      if (step === 9) tensorsAt10 = tf.memory().numTensors;
      if (step === 0) {
        // The gradient the worker sent equals a direct computation at the same params.
        ref.setParams(params);
        const direct = directGradient(ref, train, indices);
        expect(Array.from(new Float32Array(c.bytes.buffer))).toEqual(Array.from(direct.grads));
        expect(c.commit.loss).toBeCloseTo(direct.loss, 6);
      }
    }
    expect(worker.errors).toEqual([]);
    expect(tf.memory().numTensors).toBe(tensorsAt10);
    ref.dispose();
  });

  it("sends the gradient in the run's compression: 2 bytes per value for fp16 and bf16, equal to encoding the direct computation", async () => {
    const { fake, socket } = await start();
    const { train } = await loadDataset(dataset);
    const ref = GradientComputer.create(model, { inputShape: [6], numClasses: 3, seed: 4 });
    const params = ref.getParams();
    const indices = new Uint32Array([1, 5, 9, 33]);
    const direct = directGradient(ref, train, indices);
    for (const [v, compression] of (['fp16', 'bf16'] as const).entries()) {
      const runId = `rc-${compression}`;
      await fake.assign(socket, { runId, name: 'x', seed: 4, model, dataset, paramCount: ref.layout.totalSize, gradientCompression: compression });
      fake.sendParams(socket, runId, v, params);
      fake.step(socket, { runId, step: 0, epoch: 0, paramsVersion: v, indices });
      const c = await fake.commits.next();
      expect(c.bytes.byteLength).toBe(ref.layout.totalSize * 2);
      expect(Array.from(c.bytes)).toEqual(Array.from(encodeGradient(direct.grads, compression)));
    }
    ref.dispose();
  });

  it('parameters and gradients over 1 MiB travel as several chunks and arrive whole', async () => {
    const { fake, socket } = await start();
    const big = parseModelSpec({ type: 'mlp', hidden: [8192] });
    const bigData = { name: 'synthetic' as const, shape: [32], classes: 3, train_size: 16, test_size: 4, seed: 1 };
    const { train } = await loadDataset(bigData);
    const ref = GradientComputer.create(big, { inputShape: [32], numClasses: 3, seed: 5 });
    const n = ref.layout.totalSize;
    expect(n * 4).toBeGreaterThan(CHUNK_BYTES);
    await fake.assign(socket, { runId: 'big', name: 'big', seed: 5, model: big, dataset: bigData, paramCount: n, gradientCompression: 'none' });
    const params = ref.getParams().map((p) => p * 0.5);
    fake.sendParams(socket, 'big', 0, params, CHUNK_BYTES);
    const indices = new Uint32Array([0, 3, 7, 15]);
    fake.step(socket, { runId: 'big', step: 0, epoch: 0, paramsVersion: 0, indices });
    const c = await fake.commits.next();
    expect(c.chunkCount).toBe(Math.ceil((n * 4) / CHUNK_BYTES));
    expect(c.chunkCount).toBeGreaterThan(1);
    ref.setParams(params);
    const direct = directGradient(ref, train, indices);
    const sent = new Float32Array(c.bytes.buffer);
    expect(sent.length).toBe(n);
    let differing = 0;
    for (let i = 0; i < n; i++) if (sent[i] !== direct.grads[i]) differing += 1;
    expect(differing).toBe(0);
    ref.dispose();
  });

  it('refuses a step whose params version it does not have, and a run whose model does not match', async () => {
    const { fake, worker, socket } = await start();
    const bad = await fake.assign(socket, { runId: 'r2', name: 'x', seed: 1, model, dataset, paramCount: 5, gradientCompression: 'none' });
    expect(bad).toMatchObject({ ok: false, error: { code: 'SHAPE_MISMATCH' } });
    const malformed = await fake.assign(socket, { runId: '', name: 'x', seed: -1, model, dataset, paramCount: 0, gradientCompression: 'none' });
    expect(malformed).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } });
    const gc = GradientComputer.create(model, { inputShape: [6], numClasses: 3, seed: 1 });
    await fake.assign(socket, { runId: 'r2', name: 'x', seed: 1, model, dataset, paramCount: gc.layout.totalSize, gradientCompression: 'none' });
    fake.step(socket, { runId: 'r2', step: 0, epoch: 0, paramsVersion: 3, indices: new Uint32Array([1]) });
    // The coordinator is told at once, so it need not wait for the step deadline.
    expect(await fake.declines.next()).toEqual({ runId: 'r2', step: 0, code: 'STALE_UPDATE', reason: 'step 0 needs params version 3, this worker has none' });
    expect(fake.commits.all).toHaveLength(0);
    expect(worker.errors.some((e) => /needs params version 3/.test((e as Error).message))).toBe(true);
    gc.dispose();
  });
});
