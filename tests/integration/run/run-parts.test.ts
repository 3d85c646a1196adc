import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../../prisma/db.ts';
import { TrackingStore } from '../../../prisma/queries/tracking-store.ts';
import { RunRecorder, type RunProgress } from '../../../coordinator/run/run-recorder.ts';
import { RunCheckpointer, loadRunCheckpoint } from '../../../coordinator/run/run-checkpointer.ts';
import type { MetricPoint } from '../../../coordinator/run/metric-buffer.ts';
import { dropTestDatabase, testDatabaseUrl } from '../support/harness.ts';

let dir: string;
let db: Database;
let store: TrackingStore;
let runId: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'crowdtrain-parts-'));
  db = await openDatabase({ url: await testDatabaseUrl(dir) });
  store = new TrackingStore(db);
  const exp = await store.ensureExperiment('parts');
  runId = (await store.createRun({ experimentId: exp.id, name: 'parts', mode: 'ddp', config: {}, seed: 1, totalUpdates: 10 })).id;
  for (const id of ['w1', 'w2']) await store.upsertWorker({ id, kind: 'node', backend: 'cpu', deviceInfo: {}, name: id });
});

afterAll(async () => {
  await db?.close();
  await dropTestDatabase(dir);
  await rm(dir, { recursive: true, force: true });
});

describe('RunRecorder', () => {
  it('logs an update: weighted train loss, the rule metrics, counters per worker, live progress and points', async () => {
    const live: MetricPoint[] = [];
    const progress: RunProgress[] = [];
    const rec = new RunRecorder(store, runId, { name: 'parts', totalUpdates: 10 }, { onMetrics: (_id, p) => live.push(...p), onProgress: (p) => progress.push(p) }, () => 2);
    const loss = rec.recordUpdate({
      step: 0,
      epoch: 0,
      contributions: [
        { workerId: 'w1', sampleCount: 30, loss: 1, accuracy: 0.5 },
        { workerId: 'w2', sampleCount: 10, loss: 3, accuracy: 1 },
      ],
      lr: 0.01,
      ruleMetrics: { grad_norm: 2.5 },
      stepMs: 100,
      bytesIn: 800,
      bytesOut: 1600,
    });
    expect(loss).toBeCloseTo((30 * 1 + 10 * 3) / 40, 12);
    const byKey = Object.fromEntries(live.map((p) => [p.key, p.value]));
    expect(byKey).toMatchObject({ train_loss: 1.5, train_accuracy: 0.625, lr: 0.01, grad_norm: 2.5, batch_samples: 40, bytes_in: 800, bytes_out: 1600, active_workers: 2, samples_per_sec: 400 });
    expect(live.every((p) => p.step === 1)).toBe(true);
    expect(progress.at(-1)).toMatchObject({ step: 1, trainLoss: 1.5, activeWorkers: 2 });
    rec.count('w1', { bytesIn: 800 });
    await rec.flushMetrics();
    await rec.flushContributions();
    expect((await store.getMetricHistory(runId, 'grad_norm')).map((p) => [p.step, p.value])).toEqual([[1, 2.5]]);
    const contributions = await store.listContributions(runId);
    expect(contributions.find((c) => c.workerId === 'w1')).toMatchObject({ steps: 1, samples: 30, bytesIn: 800 });
    expect(contributions.find((c) => c.workerId === 'w2')).toMatchObject({ steps: 1, samples: 10 });
  });

  it('records events and the status', async () => {
    const rec = new RunRecorder(store, runId, { name: 'parts', totalUpdates: 10 });
    await rec.event('slice_reassigned', { step: 3 }, 'w2');
    await rec.setStatus('paused');
    expect(rec.snapshot().status).toBe('paused');
    expect((await store.getRun(runId))?.status).toBe('paused');
    const events = await store.listEvents(runId);
    expect(events.find((e) => e.kind === 'slice_reassigned')).toMatchObject({ workerId: 'w2', detail: { step: 3 } });
  });
});

describe('RunCheckpointer', () => {
  it('writes a verifiable checkpoint, flags the first one after a new best, and loads latest, best and by step', async () => {
    const cp = new RunCheckpointer(store, runId, 'ddp', dir);
    const state = { name: 'sgd', step: 4, slots: { momentum: new Float32Array([0.5, -1]) } };
    const at = (step: number) => ({ step, reason: 'periodic' as const, snapshot: { step, sampler: { cursor: step } }, params: new Float32Array([step, step + 0.25]), ruleState: state });
    expect(cp.observeMetric(0.8)).toBe(true);
    const first = await cp.write(at(4));
    expect(cp.observeMetric(0.7)).toBe(false);
    // A diverged evaluation is never the best.
    expect(cp.observeMetric(Number.NaN)).toBe(false);
    expect(cp.bestMetric).toBe(0.8);
    await cp.write(at(8));
    expect(first.path).toMatch(/checkpoints\/.+\/step-00000004\.ckpt$/);
    const best = await loadRunCheckpoint(store, runId, 'best');
    expect(best).toMatchObject({ step: 4, mode: 'ddp', bestMetric: 0.8, machine: { step: 4, sampler: { cursor: 4 } } });
    expect(Array.from(best.optimizer.slots.momentum ?? [])).toEqual([0.5, -1]);
    const latest = await loadRunCheckpoint(store, runId, 'latest');
    expect(Array.from(latest.params)).toEqual([8, 8.25]);
    expect((await loadRunCheckpoint(store, runId, 4)).step).toBe(4);
    await expect(loadRunCheckpoint(store, runId, 5)).rejects.toThrow(/no 5 checkpoint/);
    expect((await store.listEvents(runId)).filter((e) => e.kind === 'checkpoint')).toHaveLength(2);
  });

  it('a tampered checkpoint file is refused by its sha256, and a header that is not a checkpoint header by its schema', async () => {
    const cp = new RunCheckpointer(store, runId, 'ddp', dir);
    const w = await cp.write({ step: 9, reason: 'final', snapshot: { step: 9 }, params: new Float32Array([1]), ruleState: { name: 'sgd', step: 0, slots: {} } });
    const buf = await readFile(w.path);
    buf.writeUInt8(buf.readUInt8(buf.length - 1) ^ 0xff, buf.length - 1);
    await writeFile(w.path, buf);
    await expect(loadRunCheckpoint(store, runId, 9)).rejects.toThrow(/corrupt: sha256/);
    const { decodeCheckpoint } = await import('../../../coordinator/run/checkpoint-file.ts');
    const json = Buffer.from(JSON.stringify({ runId: 'r', step: -1 }));
    const len = Buffer.alloc(4);
    len.writeUInt32LE(json.length);
    expect(() => decodeCheckpoint(Buffer.concat([Buffer.from('CTCKPT1\n', 'latin1'), len, json]))).toThrow(/invalid header: .*step/);
  });
});
