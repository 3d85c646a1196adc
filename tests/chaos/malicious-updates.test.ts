import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { io, type Socket } from 'socket.io-client';
import { validateRunConfig } from '../../core/config/run-config.ts';
import { PROTOCOL_VERSION } from '../../core/protocol/version.ts';
import type { AckResult, ClientToServerEvents, ParamsChunk, ServerToClientEvents, StepAssign } from '../../core/protocol/messages.ts';
import { GradientComputer } from '../../core/models/gradient-computer.ts';
import { loadDataset } from '../../core/data/dataset-spec.ts';
import { datasetBatch } from '../../core/data/dataset.ts';
import { startTestCoordinator, syntheticConfig, type TestCoordinator } from '../integration/support/harness.ts';

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

let t: TestCoordinator | null = null;
const sockets: ClientSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await t?.cleanup();
  t = null;
});

function connect(url: string, auth: Record<string, unknown>): ClientSocket {
  const s: ClientSocket = io(url, { auth, transports: ['websocket'], reconnection: false, forceNew: true });
  sockets.push(s);
  return s;
}

function connectError(s: ClientSocket): Promise<Error & { data?: { code?: string } }> {
  return new Promise((resolve) => s.once('connect_error', (e) => resolve(e as Error & { data?: { code?: string } })));
}

/** A hand-driven worker that can send anything. */
class RogueWorker {
  readonly steps: StepAssign[] = [];
  private waiters: ((s: StepAssign) => void)[] = [];
  params: Float32Array | null = null;
  paramsMessages = 0;
  constructor(readonly socket: ClientSocket) {
    const chunks: Uint8Array[] = [];
    socket.on('run:assign', (msg, ack) => ack({ ok: true, runId: msg.runId, paramCount: msg.paramCount, datasetSize: 0 }));
    socket.on('params:chunk', (msg: ParamsChunk) => {
      this.paramsMessages += 1;
      const bytes = msg.bytes instanceof ArrayBuffer ? new Uint8Array(msg.bytes) : msg.bytes;
      chunks[msg.index] = bytes;
      if (chunks.filter(Boolean).length === msg.count) {
        const all = new Uint8Array(msg.totalBytes);
        let o = 0;
        for (const c of chunks) {
          all.set(c, o);
          o += c.byteLength;
        }
        this.params = new Float32Array(all.buffer);
        chunks.length = 0;
      }
    });
    socket.on('step:assign', (msg) => {
      const w = this.waiters.shift();
      if (w) w(msg);
      else this.steps.push(msg);
    });
  }
  async commit(msg: unknown): Promise<AckResult<{ accepted: true }>> {
    const res = (await this.socket.timeout(10_000).emitWithAck('grad:commit', msg)) as AckResult<{ accepted: true }>;
    return res;
  }
  async hello(msg: unknown): Promise<AckResult<{ workerId: string }>> {
    const res = (await this.socket.timeout(10_000).emitWithAck('worker:hello', msg)) as AckResult<{ workerId: string }>;
    return res;
  }
  nextStep(): Promise<StepAssign> {
    const s = this.steps.shift();
    if (s) return Promise.resolve(s);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  async send(step: StepAssign, grads: Float32Array, over: { paramsVersion?: number; sampleCount?: number; totalBytes?: number } = {}): Promise<AckResult<{ accepted: true }>> {
    const bytes = new Uint8Array(grads.buffer, grads.byteOffset, grads.byteLength);
    const indices = (step.indices as Uint8Array).byteLength / 4;
    this.socket.emit('grad:chunk', { runId: step.runId, step: step.step, index: 0, count: 1, totalBytes: over.totalBytes ?? bytes.byteLength, bytes });
    return this.commit({
      runId: step.runId,
      step: step.step,
      paramsVersion: over.paramsVersion ?? step.paramsVersion,
      sampleCount: over.sampleCount ?? indices,
      loss: 1,
      accuracy: 0.5,
      computeMs: 1,
    });
  }
}

describe('handshake security', () => {
  it('a wrong token gets a connect_error that says so', async () => {
    t = await startTestCoordinator();
    const err = await connectError(connect(t.coordinator.url, { token: 'definitely-not-the-token', protocolVersion: PROTOCOL_VERSION }));
    expect(err.message).toMatch(/wrong worker token/);
    expect(err.data?.code).toBe('BAD_TOKEN');
  });

  it('a protocol version mismatch names both versions', async () => {
    t = await startTestCoordinator();
    const err = await connectError(connect(t.coordinator.url, { token: t.token, protocolVersion: PROTOCOL_VERSION + 1 }));
    expect(err.data?.code).toBe('PROTOCOL_MISMATCH');
    expect(err.message).toContain(`v${PROTOCOL_VERSION + 1}`);
    expect(err.message).toContain(`v${PROTOCOL_VERSION}`);
  });

  it('a malformed handshake is refused with the field named', async () => {
    t = await startTestCoordinator();
    const err = await connectError(connect(t.coordinator.url, { protocolVersion: 'one' }));
    expect(err.data?.code).toBe('INVALID_MESSAGE');
    expect(err.message).toMatch(/token/);
  });
});

describe('bad updates are rejected, recorded, and never touch the parameters', () => {
  it('wrong length, NaN, Inf, huge norm, stale version, wrong sample count, malformed commit, then a valid update is applied exactly', async () => {
    t = await startTestCoordinator();
    const cfg = validateRunConfig(syntheticConfig({ total_updates: 1, optimizer: { name: 'sgd', lr: 0.1 }, max_update_norm: 1000 }));
    const rogue = new RogueWorker(connect(t.coordinator.url, { token: t.token, protocolVersion: PROTOCOL_VERSION }));
    const hello = await rogue.hello({ kind: 'node', backend: 'cpu', name: 'rogue' });
    expect(hello.ok).toBe(true);
    // A malformed hello is answered with a typed error naming the field.
    const badHello = await rogue.hello({ kind: 'toaster', backend: 'cpu' });
    expect(badHello).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } });
    expect(JSON.stringify(badHello)).toContain('kind');

    const session = await t.coordinator.startRun(cfg);
    const initial = session.currentParams();
    const n = session.paramCount;
    const rejected: [string, () => Promise<AckResult<{ accepted: true }>>][] = [];
    let step = await rogue.nextStep();
    const cases: [string, (s: StepAssign) => Promise<AckResult<{ accepted: true }>>][] = [
      ['SHAPE_MISMATCH', (s) => rogue.send(s, new Float32Array(n - 1))],
      ['NON_FINITE', (s) => rogue.send(s, new Float32Array(n).fill(0.1).map((v, i) => (i === 7 ? NaN : v)))],
      ['NON_FINITE', (s) => rogue.send(s, new Float32Array(n).map((_, i) => (i === 3 ? Infinity : 0)))],
      ['NORM_TOO_LARGE', (s) => rogue.send(s, new Float32Array(n).fill(100))],
      ['STALE_UPDATE', (s) => rogue.send(s, new Float32Array(n), { paramsVersion: s.paramsVersion + 5 })],
      ['SHAPE_MISMATCH', (s) => rogue.send(s, new Float32Array(n), { sampleCount: 3 })],
      ['SHAPE_MISMATCH', (s) => rogue.send(s, new Float32Array(n), { totalBytes: 12 })],
      [
        'INVALID_MESSAGE',
        (s) => rogue.commit({ runId: s.runId, step: s.step, paramsVersion: 'x', sampleCount: -1, loss: 0, accuracy: 3, computeMs: 0 }),
      ],
    ];
    for (const [code, send] of cases) {
      const res = await send(step);
      expect(res, code).toMatchObject({ ok: false, error: { code } });
      rejected.push([code, () => Promise.resolve(res)]);
      // The slice is reassigned: the same step comes back (only this worker is in the run).
      const again = await rogue.nextStep();
      expect(again.step).toBe(0);
      step = again;
      expect(session.currentParams()).toEqual(initial);
    }
    expect(rogue.params).toEqual(initial);

    // A worker that declines (it lacks the params version) gets its slice back at once, with the params resent.
    const paramsBefore = rogue.paramsMessages;
    rogue.socket.emit('step:decline', { runId: step.runId, step: step.step, code: 'STALE_UPDATE', reason: 'lost my params' });
    step = await rogue.nextStep();
    expect(step.step).toBe(0);
    expect(rogue.paramsMessages).toBeGreaterThan(paramsBefore);

    // Now a correct gradient, computed here exactly like a worker would.
    await tf.setBackend('cpu');
    const { train } = await loadDataset(cfg.dataset);
    const gc = GradientComputer.create(cfg.model, { inputShape: train.inputShape, numClasses: train.numClasses, seed: cfg.seed });
    gc.setParams(initial);
    const idx = new Uint32Array(new Uint8Array(step.indices as Uint8Array).buffer);
    const { xs, ys } = datasetBatch(train, idx);
    const { grads } = gc.computeGradients(xs, ys);
    tf.dispose([xs, ys]);
    gc.dispose();
    const ok = await rogue.send(step, grads);
    expect(ok).toEqual({ ok: true, accepted: true });
    const outcome = await session.done;
    expect(outcome.status).toBe('finished');
    const expected = initial.map((p, i) => Math.fround(p - Math.fround(0.1 * (grads[i] ?? 0))));
    const final = session.currentParams();
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs((final[i] ?? 0) - (expected[i] ?? 0)));
    expect(worst).toBeLessThan(1e-6);

    const events = await t.coordinator.store.listEvents(session.runId);
    expect(events.some((e) => e.kind === 'step_declined' && JSON.stringify(e.detail).includes('lost my params'))).toBe(true);
    const rejections = events.filter((e) => e.kind === 'update_rejected').map((e) => JSON.stringify(e.detail));
    expect(rejections).toHaveLength(cases.length);
    for (const [code] of cases) expect(rejections.some((r) => r.includes(code))).toBe(true);
    const contributions = await t.coordinator.store.listContributions(session.runId);
    expect(contributions[0]?.rejected).toBe(cases.length);
  });

  it('an oversized message gets the sender disconnected, and the run goes on without it', async () => {
    t = await startTestCoordinator();
    const rogue = new RogueWorker(connect(t.coordinator.url, { token: t.token, protocolVersion: PROTOCOL_VERSION }));
    await rogue.hello({ kind: 'node', backend: 'cpu' });
    const disconnected = new Promise<string>((resolve) => rogue.socket.once('disconnect', (r) => resolve(r)));
    rogue.socket.emit('grad:chunk', { runId: 'x', step: 0, index: 0, count: 1, totalBytes: 8 << 20, bytes: new Uint8Array(8 << 20) });
    expect(await disconnected).toMatch(/transport close|server/);
    expect(t.coordinator.workers()).toHaveLength(0);
  });

  it('a flood of invalid messages gets the sender disconnected', async () => {
    t = await startTestCoordinator();
    const rogue = connect(t.coordinator.url, { token: t.token, protocolVersion: PROTOCOL_VERSION });
    await new Promise<void>((r) => rogue.once('connect', () => r()));
    const disconnected = new Promise<string>((resolve) => rogue.once('disconnect', (r) => resolve(r)));
    for (let i = 0; i < 30; i++) rogue.emit('grad:chunk', { garbage: i });
    expect(await disconnected).toBe('io server disconnect');
  });
});
