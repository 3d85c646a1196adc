import { afterEach, describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import { validateRunConfig } from '../../core/config/run-config.ts';
import { PROTOCOL_VERSION } from '../../core/protocol/version.ts';
import type { ClientToServerEvents, ServerToClientEvents } from '../../core/protocol/messages.ts';
import { startTestCoordinator, syntheticConfig, waitForWorkers, type TestCoordinator } from '../integration/support/harness.ts';

let t: TestCoordinator | null = null;
let rogue: Socket<ServerToClientEvents, ClientToServerEvents> | null = null;
afterEach(async () => {
  rogue?.close();
  rogue = null;
  await t?.cleanup();
  t = null;
});

describe('a worker whose gradients disagree with the fleet', () => {
  it('is flagged (Event + live fleet) while its valid-looking zero gradients are still accepted; honest workers are not', async () => {
    t = await startTestCoordinator();
    await t.joinWorkers(3);
    // A client whose backend "computes" zeros (like a broken GPU read-back): well-formed, finite, small.
    const s: Socket<ServerToClientEvents, ClientToServerEvents> = io(t.coordinator.url, {
      auth: { token: t.token, protocolVersion: PROTOCOL_VERSION },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    rogue = s;
    s.on('run:assign', (msg, ack) => ack({ ok: true, runId: msg.runId, paramCount: msg.paramCount, datasetSize: 240 }));
    let paramCount = 0;
    s.on('params:chunk', (msg) => (paramCount = msg.totalBytes / 4));
    s.on('step:assign', (msg) => {
      const bytes = new Uint8Array(paramCount * 4);
      const samples = (msg.indices as Uint8Array).byteLength / 4;
      s.emit('grad:chunk', { runId: msg.runId, step: msg.step, index: 0, count: 1, totalBytes: bytes.byteLength, bytes });
      s.emit('grad:commit', { runId: msg.runId, step: msg.step, paramsVersion: msg.paramsVersion, sampleCount: samples, loss: 1, accuracy: 0, computeMs: 1 }, () => undefined);
    });
    await new Promise<void>((resolve) => s.once('connect', () => resolve()));
    const hello = (await s.timeout(10_000).emitWithAck('worker:hello', { kind: 'browser', backend: 'webgpu', name: 'broken-tab' })) as { ok: boolean; workerId?: string };
    expect(hello.ok).toBe(true);
    await waitForWorkers(t.coordinator, 4);

    const session = await t.coordinator.startRun(validateRunConfig(syntheticConfig({ batch_size: 32, total_updates: 10, min_workers: 4, eval_every: 100, optimizer: { name: 'sgd', lr: 0.05 }, dataset: { name: 'synthetic', shape: [12], classes: 3, train_size: 1200, test_size: 60, seed: 5, noise: 1.0 } })));
    const outcome = await session.done;
    expect(outcome.status).toBe('finished');

    const events = await t.coordinator.store.listEvents(session.runId);
    const outliers = events.filter((e) => e.kind === 'gradient_outlier');
    expect(outliers.map((e) => e.workerId)).toEqual([hello.workerId]);
    expect(JSON.stringify(outliers[0]?.detail)).toMatch(/disagree with the rest of the fleet/);
    const live = (await (await fetch(`${t.coordinator.url}/api/v1/fleet`)).json()) as { workers: { id: string; gradientOutlier: boolean }[] };
    const flagged = live.workers.filter((w) => w.gradientOutlier).map((w) => w.id);
    expect(flagged).toEqual([hello.workerId]);
    expect(live.workers).toHaveLength(4);
  });
});
