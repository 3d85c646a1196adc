import { mkdtemp, readdir, rm, writeFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../../prisma/db.ts';
import { TrackingStore } from '../../../prisma/queries/tracking-store.ts';
import { RunRecorder, type RunProgress } from '../../../coordinator/run/run-recorder.ts';
import { RunCheckpointer, loadNewestValidCheckpoint, loadRunCheckpoint } from '../../../coordinator/run/run-checkpointer.ts';
import { decodeCheckpoint, encodeCheckpoint, firstNonFinite } from '../../../coordinator/run/checkpoint-file.ts';
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

  const newRun = async (name: string, config: object = {}) => {
    const exp = await store.ensureExperiment('parts');
    return (await store.createRun({ experimentId: exp.id, name, mode: 'ddp', config, seed: 1, totalUpdates: 100 })).id;
  };
  const input = (step: number) => ({ step, reason: 'periodic' as const, snapshot: { step }, params: new Float32Array([step]), ruleState: { name: 'sgd', step, slots: { m: new Float32Array([step, -step]) } } });

  it('retention keeps exactly the newest N plus the best, files and rows; the run config gives N, 0 or null keeps all', async () => {
    const id = await newRun('retention', { keep_checkpoints: 3 });
    const cp = new RunCheckpointer(store, id, 'ddp', dir);
    cp.observeMetric(0.9);
    for (let step = 1; step <= 7; step++) await cp.write(input(step));
    const rows = await store.listCheckpoints(id);
    expect(rows.map((r) => [r.step, r.isBest, r.isLatest])).toEqual([[1, true, false], [5, false, false], [6, false, false], [7, false, true]]);
    expect((await readdir(path.join(dir, 'checkpoints', id))).sort()).toEqual(rows.map((r) => path.basename(r.path)));
    for (const keep of [0, null]) {
      const all = await newRun(`keep-${keep}`, { keep_checkpoints: keep });
      const c = new RunCheckpointer(store, all, 'ddp', dir);
      for (let step = 1; step <= 7; step++) await c.write(input(step));
      expect(await store.listCheckpoints(all)).toHaveLength(7);
    }
    // The default (no key in the run config) is 5.
    const dflt = await newRun('keep-default');
    const d = new RunCheckpointer(store, dflt, 'ddp', dir);
    for (let step = 1; step <= 7; step++) await d.write(input(step));
    expect((await store.listCheckpoints(dflt)).map((r) => r.step)).toEqual([3, 4, 5, 6, 7]);
  });

  it('retention never removes a file a kept row still names (a step written again after a resume)', async () => {
    const id = await newRun('rewritten', { keep_checkpoints: 2 });
    const cp = new RunCheckpointer(store, id, 'ddp', dir);
    for (const step of [2, 4, 6]) await cp.write(input(step));
    // Resumed from 2: step 4 is written again, same file name.
    for (const step of [4, 6]) await cp.write(input(step));
    const rows = await store.listCheckpoints(id);
    expect(rows).toHaveLength(2);
    for (const r of rows) expect((await loadRunCheckpoint(store, id, r.step)).step).toBe(r.step);
  });

  it('deleteCheckpoints deletes only the run\'s own rows', async () => {
    const a = await newRun('del-a');
    const b = await newRun('del-b');
    await new RunCheckpointer(store, a, 'ddp', dir).write(input(1));
    await new RunCheckpointer(store, b, 'ddp', dir).write(input(1));
    const rowB = (await store.listCheckpoints(b))[0]!;
    expect(await store.deleteCheckpoints(a, [rowB.id])).toEqual([]);
    expect(await store.listCheckpoints(b)).toHaveLength(1);
    expect(await store.deleteCheckpoints(b, [])).toEqual([]);
    expect((await store.deleteCheckpoints(b, [rowB.id])).map((r) => r.id)).toEqual([rowB.id]);
    expect(await store.listCheckpoints(b)).toHaveLength(0);
  });

  it('the newest valid checkpoint: falls back past corrupt ones, never to a step a resume rewound past', async () => {
    const id = await newRun('fallback', { keep_checkpoints: null });
    const cp = new RunCheckpointer(store, id, 'ddp', dir);
    for (const step of [2, 4, 6]) await cp.write(input(step));
    expect(await loadNewestValidCheckpoint(store, id)).toMatchObject({ checkpoint: { step: 6 }, skipped: [] });
    // Resumed from 2, then a new step 4 was written and got corrupted: step 6 (the lost timeline) is no candidate.
    const w = await cp.write(input(4));
    const buf = await readFile(w.path);
    buf.writeUInt8(buf.readUInt8(buf.length - 1) ^ 0xff, buf.length - 1);
    await writeFile(w.path, buf);
    const got = await loadNewestValidCheckpoint(store, id);
    expect(got.checkpoint.step).toBe(2);
    expect(got.skipped.map((k) => k.step)).toEqual([4]);
    expect(got.skipped[0]?.reason).toMatch(/corrupt: sha256/);
    await expect(loadNewestValidCheckpoint(store, await newRun('empty'))).rejects.toThrow(/has no latest checkpoint/);
  });
});

describe('decodeCheckpoint refuses non-finite values', () => {
  const content = () => ({
    runId: 'r',
    mode: 'ddp',
    step: 3,
    params: new Float32Array([1, 2, 3, 4]),
    optimizer: { name: 'adam', step: 3, slots: { m: new Float32Array([0, 0]), v: new Float32Array([1, 1, 1]) } },
    machine: { step: 3 },
    bestMetric: null,
    createdAt: '2026-01-01T00:00:00.000Z',
  });

  it('names the first bad index and the array', () => {
    expect(decodeCheckpoint(encodeCheckpoint(content())).step).toBe(3);
    const p = content();
    p.params[2] = Number.NaN;
    p.params[3] = Number.NaN;
    expect(() => decodeCheckpoint(encodeCheckpoint(p), 'f.ckpt')).toThrow(/^f\.ckpt: params\[2\] is NaN/);
    const s = content();
    s.optimizer.slots.v[1] = Number.POSITIVE_INFINITY;
    expect(() => decodeCheckpoint(encodeCheckpoint(s))).toThrow(/optimizer slot v\[1\] is Infinity/);
    const m = content();
    m.optimizer.slots.m[0] = Number.NEGATIVE_INFINITY;
    expect(() => decodeCheckpoint(encodeCheckpoint(m))).toThrow(/optimizer slot m\[0\] is -Infinity/);
  });

  it('firstNonFinite sees every NaN payload and both infinities, and nothing else (float32 extremes, -0, subnormals)', () => {
    expect(firstNonFinite(new Float32Array([0, -0, 3.4028234663852886e38, -3.4028234663852886e38, 1.4e-45, -1.4e-45]))).toBe(-1);
    expect(firstNonFinite(new Float32Array(0))).toBe(-1);
    const bits = new Uint32Array([0x3f800000, 0x7fc00001]);
    expect(firstNonFinite(new Float32Array(bits.buffer))).toBe(1);
    bits[1] = 0xff800000;
    expect(firstNonFinite(new Float32Array(bits.buffer))).toBe(1);
    // A view at an offset into a larger buffer.
    const big = new Float32Array([Number.NaN, 1, 2, Number.POSITIVE_INFINITY]);
    expect(firstNonFinite(big.subarray(1))).toBe(2);
  });
});
