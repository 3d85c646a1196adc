import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { io, type Socket } from 'socket.io-client';
import { validateRunConfig, type RunConfig } from '../../core/config/run-config.ts';
import { CHUNK_BYTES, PROTOCOL_VERSION } from '../../core/protocol/version.ts';
import type { AckResult, ClientToServerEvents, GradChunk, GradCommitInput, Hello, ServerToClientEvents, Welcome } from '../../core/protocol/messages.ts';
import { GradientComputer } from '../../core/models/gradient-computer.ts';
import { loadDataset } from '../../core/data/dataset-spec.ts';
import { datasetBatch } from '../../core/data/dataset.ts';
import { startTestCoordinator, syntheticConfig, type TestCoordinator } from '../integration/support/harness.ts';
import { joinTestWorker, TestWorkerJoinError, type TestStepContext, type TestWorker } from '../integration/support/test-worker.ts';

let t: TestCoordinator | null = null;
const workers: TestWorker[] = [];
const rawSockets: Socket[] = [];
afterEach(async () => {
  for (const w of workers.splice(0)) await w.close();
  for (const s of rawSockets.splice(0)) s.close();
  await t?.cleanup();
  t = null;
});

async function join(opts: Omit<Parameters<typeof joinTestWorker>[0], 'url' | 'token'> & { token?: string }): Promise<TestWorker> {
  if (!t) throw new Error('no coordinator');
  const w = await joinTestWorker({ url: t.coordinator.url, token: t.token, ...opts });
  workers.push(w);
  return w;
}

async function joinRefusal(opts: Omit<Parameters<typeof joinTestWorker>[0], 'url' | 'token'> & { token?: string }): Promise<TestWorkerJoinError> {
  try {
    await join(opts);
  } catch (err) {
    if (err instanceof TestWorkerJoinError) return err;
    throw err;
  }
  throw new Error('the coordinator accepted a worker it should have refused');
}

/** The coordinator's update rule for plain SGD, computed here from a gradient computed here (independently of any worker). */
async function expectedSgdStep(cfg: RunConfig, initial: Float32Array, indices: Uint32Array): Promise<Float32Array> {
  await tf.setBackend('cpu');
  const { train } = await loadDataset(cfg.dataset);
  const gc = GradientComputer.create(cfg.model, { inputShape: train.inputShape, numClasses: train.numClasses, seed: cfg.seed });
  gc.setParams(initial);
  const { xs, ys } = datasetBatch(train, indices);
  const { grads } = gc.computeGradients(xs, ys);
  tf.dispose([xs, ys]);
  gc.dispose();
  const lr = cfg.optimizer.lr;
  return initial.map((p, i) => Math.fround(p - Math.fround(lr * (grads[i] ?? 0))));
}

function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return worst;
}

describe('handshake security (through the shared worker connection lifecycle)', () => {
  it('a wrong token gets a refusal that says so', async () => {
    t = await startTestCoordinator();
    const err = await joinRefusal({ token: 'definitely-not-the-token' });
    expect(err.code).toBe('BAD_TOKEN');
    expect(err.message).toMatch(/wrong worker token/);
  });

  it('a protocol version mismatch names both versions', async () => {
    t = await startTestCoordinator();
    const err = await joinRefusal({ auth: { token: t.token, protocolVersion: PROTOCOL_VERSION + 1 } });
    expect(err.code).toBe('PROTOCOL_MISMATCH');
    expect(err.message).toContain(`v${PROTOCOL_VERSION + 1}`);
    expect(err.message).toContain(`v${PROTOCOL_VERSION}`);
  });

  it('a malformed handshake is refused with the field named', async () => {
    t = await startTestCoordinator();
    const err = await joinRefusal({ auth: { protocolVersion: 'one' } });
    expect(err.code).toBe('INVALID_MESSAGE');
    expect(err.message).toMatch(/token/);
  });
});

/** One bad update: how the test worker breaks its (otherwise real) result, and the code the coordinator must answer. */
interface BadUpdate {
  code: string;
  result?(values: Float32Array): Float32Array;
  chunk?(msg: GradChunk): unknown;
  commit?(msg: GradCommitInput): unknown;
}

describe('bad updates are rejected, recorded, and never touch the parameters', () => {
  it('wrong length, NaN, Inf, huge norm, stale version, wrong sample count, malformed commit, a decline, then a valid update is applied exactly', async () => {
    t = await startTestCoordinator();
    const cfg = validateRunConfig(syntheticConfig({ total_updates: 1, optimizer: { name: 'sgd', lr: 0.1 }, max_update_norm: 1000 }));
    // Each attempt (the same slice comes back after every rejection) breaks the real gradient one way.
    const plan: BadUpdate[] = [
      { code: 'SHAPE_MISMATCH', result: (v) => v.slice(0, v.length - 1) },
      { code: 'NON_FINITE', result: (v) => new Float32Array(v.length).fill(0.1).map((x, i) => (i === 7 ? NaN : x)) },
      { code: 'NON_FINITE', result: (v) => new Float32Array(v.length).map((_, i) => (i === 3 ? Infinity : 0)) },
      { code: 'NORM_TOO_LARGE', result: (v) => new Float32Array(v.length).fill(100) },
      { code: 'STALE_UPDATE', commit: (c) => ({ ...c, paramsVersion: c.paramsVersion + 5 }) },
      { code: 'SHAPE_MISMATCH', commit: (c) => ({ ...c, sampleCount: 3 }) },
      // Wire messages the real loop never produces: a chunk header that lies about the total, a commit of the wrong types.
      { code: 'SHAPE_MISMATCH', chunk: (c) => ({ ...c, totalBytes: 12 }) },
      { code: 'INVALID_MESSAGE', commit: (c) => ({ runId: c.runId, step: c.step, paramsVersion: 'x', sampleCount: -1, loss: 0, accuracy: 3, computeMs: 0 }) },
    ];
    let paramsDropped = 0;
    let honest: TestStepContext | null = null;
    let paramsChunksAtFirstResult = -1;
    const rogue = await join({
      name: 'rogue',
      // The first parameters are lost on the way: the worker declines the step it cannot compute.
      tamper: {
        dropParamsChunk: () => paramsDropped++ === 0,
        chunk: (c, ctx) => plan[ctx.attempt]?.chunk?.(c) ?? c,
        commit: (c, ctx) => plan[ctx.attempt]?.commit?.(c) ?? c,
      },
      transformResult: (v, ctx) => {
        if (ctx.attempt === 0) paramsChunksAtFirstResult = rogue.paramsChunks;
        const bad = plan[ctx.attempt];
        if (!bad) honest = { ...ctx, indices: ctx.indices.slice() };
        return bad?.result?.(v) ?? v;
      },
    });
    // A malformed hello is answered with a typed error naming the field (raw socket: no worker loop sends it).
    const badHello = (await rogue.socket.timeout(10_000).emitWithAck('worker:hello', { kind: 'toaster', backend: 'cpu' } as unknown as Hello)) as AckResult<Welcome>;
    expect(badHello).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } });
    expect(JSON.stringify(badHello)).toContain('kind');

    const session = await t.coordinator.startRun(cfg);
    const initial = session.currentParams();
    for (const bad of plan) {
      const { commit, ack } = await rogue.nextCommit();
      expect(ack, bad.code).toMatchObject({ ok: false, error: { code: bad.code } });
      // The slice is reassigned: the same step comes back (only this worker is in the run).
      expect((commit as { step: number }).step).toBe(0);
      expect(session.currentParams()).toEqual(initial);
    }
    // The decline came first: the coordinator resent the parameters at once with the slice.
    expect(paramsChunksAtFirstResult).toBe(2);

    // Now the worker's real gradient, unbroken.
    const ok = await rogue.nextCommit();
    expect(ok.ack).toEqual({ ok: true, accepted: true });
    const outcome = await session.done;
    expect(outcome.status).toBe('finished');
    const step = honest as TestStepContext | null;
    if (!step) throw new Error('the honest attempt never ran');
    const expected = await expectedSgdStep(cfg, initial, step.indices);
    expect(maxAbsDifference(session.currentParams(), expected)).toBeLessThan(1e-6);

    const events = await t.coordinator.store.listEvents(session.runId);
    expect(events.some((e) => e.kind === 'step_declined' && JSON.stringify(e.detail).includes('needs params version 0'))).toBe(true);
    const rejections = events.filter((e) => e.kind === 'update_rejected').map((e) => JSON.stringify(e.detail));
    expect(rejections).toHaveLength(plan.length);
    for (const { code } of plan) expect(rejections.some((r) => r.includes(code))).toBe(true);
    const contributions = await t.coordinator.store.listContributions(session.runId);
    expect(contributions[0]?.rejected).toBe(plan.length);
  });

  it('a multi-chunk gradient (over 1 MiB of parameters) with a NaN in its last chunk is rejected; the honest multi-chunk one is applied exactly', async () => {
    t = await startTestCoordinator();
    // 32 -> 8192 -> 3: 294,915 parameters, 1.18 MB of float32: two chunks.
    const cfg = validateRunConfig(
      syntheticConfig({
        total_updates: 1,
        eval_every: 100,
        model: { type: 'mlp', hidden: [8192] },
        dataset: { name: 'synthetic', shape: [32], classes: 3, train_size: 64, test_size: 16, seed: 3 },
        optimizer: { name: 'sgd', lr: 0.1 },
      }),
    );
    let honest: TestStepContext | null = null;
    const worker = await join({
      name: 'big-model',
      transformResult: (v, ctx) => {
        if (ctx.attempt === 0) return v.slice().fill(Number.NaN, v.length - 1);
        honest = { ...ctx, indices: ctx.indices.slice() };
        return v;
      },
    });
    const session = await t.coordinator.startRun(cfg);
    const n = session.paramCount;
    expect(n * 4).toBeGreaterThan(CHUNK_BYTES);
    const initial = session.currentParams();

    const rejected = await worker.nextCommit();
    expect(worker.paramsChunks).toBe(2);
    expect(rejected.chunks).toBe(2);
    expect(rejected.ack).toMatchObject({ ok: false, error: { code: 'NON_FINITE' } });
    expect(session.currentParams()).toEqual(initial);

    const accepted = await worker.nextCommit();
    expect(accepted).toMatchObject({ chunks: 2, bytes: n * 4, ack: { ok: true, accepted: true } });
    expect((await session.done).status).toBe('finished');
    const step = honest as TestStepContext | null;
    if (!step) throw new Error('the honest attempt never ran');
    const expected = await expectedSgdStep(cfg, initial, step.indices);
    expect(maxAbsDifference(session.currentParams(), expected)).toBeLessThan(1e-6);
  });

  it('an oversized message gets the sender disconnected, and the run goes on without it', async () => {
    t = await startTestCoordinator();
    const rogue = await join({ name: 'oversized' });
    const disconnected = rogue.nextEvent('disconnected');
    // Raw socket: the worker loop never sends a chunk above CHUNK_BYTES.
    rogue.socket.emit('grad:chunk', { runId: 'x', step: 0, index: 0, count: 1, totalBytes: 8 << 20, bytes: new Uint8Array(8 << 20) });
    expect((await disconnected).reason).toMatch(/transport close|server/);
    expect(t.coordinator.workers()).toHaveLength(0);
  });

  it('a flood of invalid messages gets the sender disconnected', async () => {
    t = await startTestCoordinator();
    // A minimal raw socket (no worker loop sends garbage, nor anything before its hello).
    const rogue: Socket<ServerToClientEvents, ClientToServerEvents> = io(t.coordinator.url, {
      auth: { token: t.token, protocolVersion: PROTOCOL_VERSION },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    rawSockets.push(rogue);
    await new Promise<void>((r) => rogue.once('connect', () => r()));
    const disconnected = new Promise<string>((resolve) => rogue.once('disconnect', (r) => resolve(r)));
    for (let i = 0; i < 30; i++) rogue.emit('grad:chunk', { garbage: i });
    expect(await disconnected).toBe('io server disconnect');
  });
});
