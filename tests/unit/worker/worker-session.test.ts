import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { WorkerSession } from '../../../core/worker/worker-session.ts';
import type { WorkerTransport } from '../../../core/worker/worker-transport.ts';
import type { AckResult, GradChunk, GradCommit, ParamsChunk, RunAssign, RunReady, StepAssign, StepDecline } from '../../../core/protocol/messages.ts';
import { loadDataset } from '../../../core/data/dataset-spec.ts';
import { encodeGradient } from '../../../core/codec/gradient-compression.ts';
import { GradientComputer } from '../../../core/models/gradient-computer.ts';
import { parseModelSpec } from '../../../core/models/model-spec.ts';
import { float32ToBytes } from '../../../core/codec/float-bytes.ts';
import { splitIntoChunks } from '../../../core/codec/chunking.ts';

const model = parseModelSpec({ type: 'mlp', hidden: [8] });
const dataset = { name: 'synthetic' as const, shape: [6], classes: 3, train_size: 64, test_size: 8, seed: 2 };

/** An in-memory transport: the test plays the coordinator. */
class LoopbackTransport implements WorkerTransport {
  assign!: (msg: RunAssign) => Promise<AckResult<RunReady>>;
  params!: (msg: ParamsChunk) => void;
  step!: (msg: StepAssign) => void;
  end!: (msg: { runId: string; status: string; reason: string }) => void;
  readonly chunks: GradChunk[] = [];
  readonly commits: GradCommit[] = [];
  readonly declined: StepDecline[] = [];
  private waiter: ((c: GradCommit) => void) | null = null;
  onRunAssign(h: (msg: RunAssign) => Promise<AckResult<RunReady>>): void {
    this.assign = h;
  }
  onParamsChunk(h: (msg: ParamsChunk) => void): void {
    this.params = h;
  }
  onStepAssign(h: (msg: StepAssign) => void): void {
    this.step = h;
  }
  onRunEnd(h: (msg: { runId: string; status: string; reason: string }) => void): void {
    this.end = h;
  }
  declineStep(msg: StepDecline): void {
    this.declined.push(msg);
  }
  sendGradChunk(msg: GradChunk): void {
    this.chunks.push(msg);
  }
  commitGradient(msg: GradCommit): Promise<AckResult<{ accepted: true }>> {
    this.commits.push(msg);
    this.waiter?.(msg);
    return Promise.resolve({ ok: true, accepted: true });
  }
  nextCommit(): Promise<GradCommit> {
    return new Promise((resolve) => (this.waiter = resolve));
  }
}

function sendParams(t: LoopbackTransport, runId: string, version: number, params: Float32Array, chunkBytes = 64): void {
  const bytes = float32ToBytes(params);
  const chunks = splitIntoChunks(bytes, chunkBytes);
  chunks.forEach((c, index) => t.params({ runId, version, index, count: chunks.length, totalBytes: bytes.byteLength, bytes: c }));
}

describe('WorkerSession (the shared worker loop)', () => {
  it('answers a step with the gradient of its slice, in chunks, and leaks no tensor between step 10 and step 200', async () => {
    await tf.setBackend('cpu');
    const t = new LoopbackTransport();
    const errors: unknown[] = [];
    const { train } = await loadDataset(dataset);
    const session = new WorkerSession({ transport: t, loadTrainSet: () => Promise.resolve(train), onError: (e) => errors.push(e) });
    const ref = GradientComputer.create(model, { inputShape: [6], numClasses: 3, seed: 9 });
    const ready = await t.assign({ runId: 'r1', name: 'x', seed: 9, model, dataset, paramCount: ref.layout.totalSize, gradientCompression: 'none' });
    expect(ready).toMatchObject({ ok: true, runId: 'r1', paramCount: ref.layout.totalSize, datasetSize: 64 });

    const params = ref.getParams();
    let tensorsAt10 = -1;
    for (let step = 0; step < 200; step++) {
      const k = step % params.length;
      params[k] = (params[k] ?? 0) + 0.01;
      sendParams(t, 'r1', step, params);
      const indices = new Uint32Array([step % 64, (step * 7) % 64, (step * 13 + 1) % 64]);
      const commit = t.nextCommit();
      t.step({ runId: 'r1', step, epoch: 0, paramsVersion: step, indices: new Uint8Array(indices.buffer) });
      const c = await commit;
      expect(c.sampleCount).toBe(3);
      if (step === 9) tensorsAt10 = tf.memory().numTensors;
      if (step === 0) {
        // The gradient the worker sent equals a direct computation at the same params.
        const sent = new Uint8Array(c.step === 0 ? t.chunks.reduce((a, ch) => a + (ch.bytes as Uint8Array).byteLength, 0) : 0);
        let o = 0;
        for (const ch of t.chunks) {
          sent.set(ch.bytes as Uint8Array, o);
          o += (ch.bytes as Uint8Array).byteLength;
        }
        ref.setParams(params);
        const xs = tf.tensor2d(Array.from(indices).map((i) => Array.from(train.features.subarray(i * 6, i * 6 + 6))));
        const ys = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Array.from(indices).map((i) => train.labels[i] ?? 0), 'int32'), 3), 'float32'));
        const direct = ref.computeGradients(xs, ys);
        tf.dispose([xs, ys]);
        expect(Array.from(new Float32Array(sent.buffer))).toEqual(Array.from(direct.grads));
        expect(c.loss).toBeCloseTo(direct.loss, 6);
      }
      t.chunks.length = 0;
    }
    expect(errors).toEqual([]);
    expect(tf.memory().numTensors).toBe(tensorsAt10);
    session.dispose();
    ref.dispose();
  });

  it('sends the gradient in the run\'s compression: 2 bytes per value for fp16 and bf16, equal to encoding the direct computation', async () => {
    await tf.setBackend('cpu');
    const { train } = await loadDataset(dataset);
    const ref = GradientComputer.create(model, { inputShape: [6], numClasses: 3, seed: 4 });
    const params = ref.getParams();
    const indices = new Uint32Array([1, 5, 9, 33]);
    const xs = tf.tensor2d(Array.from(indices).map((i) => Array.from(train.features.subarray(i * 6, i * 6 + 6))));
    const ys = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Array.from(indices).map((i) => train.labels[i] ?? 0), 'int32'), 3), 'float32'));
    const direct = ref.computeGradients(xs, ys);
    tf.dispose([xs, ys]);
    for (const compression of ['fp16', 'bf16'] as const) {
      const t = new LoopbackTransport();
      const session = new WorkerSession({ transport: t, loadTrainSet: () => Promise.resolve(train) });
      await t.assign({ runId: 'rc', name: 'x', seed: 4, model, dataset, paramCount: ref.layout.totalSize, gradientCompression: compression });
      sendParams(t, 'rc', 0, params);
      const commit = t.nextCommit();
      t.step({ runId: 'rc', step: 0, epoch: 0, paramsVersion: 0, indices: new Uint8Array(indices.buffer) });
      await commit;
      const sent = t.chunks.map((c) => c.bytes as Uint8Array);
      expect(t.chunks[0]?.totalBytes).toBe(ref.layout.totalSize * 2);
      const joined = new Uint8Array(sent.reduce((a, b) => a + b.byteLength, 0));
      sent.reduce((o, b) => (joined.set(b, o), o + b.byteLength), 0);
      expect(Array.from(joined)).toEqual(Array.from(encodeGradient(direct.grads, compression)));
      session.dispose();
    }
    ref.dispose();
  });

  it('refuses a step whose params version it does not have, and a run whose model does not match', async () => {
    await tf.setBackend('cpu');
    const t = new LoopbackTransport();
    const errors: Error[] = [];
    const { train } = await loadDataset(dataset);
    const session = new WorkerSession({ transport: t, loadTrainSet: () => Promise.resolve(train), onError: (e) => errors.push(e as Error) });
    const bad = await t.assign({ runId: 'r2', name: 'x', seed: 1, model, dataset, paramCount: 5, gradientCompression: 'none' });
    expect(bad).toMatchObject({ ok: false, error: { code: 'SHAPE_MISMATCH' } });
    const malformed = await t.assign({ runId: '', name: 'x', seed: -1, model, dataset, paramCount: 0, gradientCompression: 'none' });
    expect(malformed).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } });
    const gc = GradientComputer.create(model, { inputShape: [6], numClasses: 3, seed: 1 });
    await t.assign({ runId: 'r2', name: 'x', seed: 1, model, dataset, paramCount: gc.layout.totalSize, gradientCompression: 'none' });
    t.step({ runId: 'r2', step: 0, epoch: 0, paramsVersion: 3, indices: new Uint8Array(new Uint32Array([1]).buffer) });
    await new Promise<void>((r) => setImmediate(r));
    await new Promise<void>((r) => setImmediate(r));
    expect(t.commits).toHaveLength(0);
    expect(errors.some((e) => /needs params version 3/.test(e.message))).toBe(true);
    // The coordinator is told at once, so it need not wait for the step deadline.
    expect(t.declined).toEqual([{ runId: 'r2', step: 0, code: 'STALE_UPDATE', reason: 'step 0 needs params version 3, this worker has none' }]);
    session.dispose();
    gc.dispose();
  });
});
