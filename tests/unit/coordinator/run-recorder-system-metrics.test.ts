import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, defaultDatabaseUrl, type Database } from '../../../prisma/db.ts';
import { TrackingStore } from '../../../prisma/queries/tracking-store.ts';
import { RunRecorder, type RunProgress } from '../../../coordinator/run/run-recorder.ts';
import { EventLoopMonitor } from '../../../coordinator/metrics/event-loop-monitor.ts';
import { SYSTEM_METRIC_KEYS } from '../../../coordinator/metrics/system-metrics.ts';
import type { MetricPoint } from '../../../coordinator/run/metric-buffer.ts';

let dir: string;
let db: Database;
let store: TrackingStore;
let runId: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'crowdtrain-sysmetrics-'));
  db = await openDatabase({ url: defaultDatabaseUrl(dir) });
  store = new TrackingStore(db);
  const exp = await store.ensureExperiment('sys');
  runId = (await store.createRun({ experimentId: exp.id, name: 'sys', mode: 'ddp', config: {}, seed: 1, totalUpdates: 10 })).id;
  await store.upsertWorker({ id: 'w1', kind: 'node', backend: 'cpu', deviceInfo: {}, name: 'w1' });
});

afterAll(async () => {
  await db?.close();
  await rm(dir, { recursive: true, force: true });
});

const update = (step: number) => ({
  step,
  epoch: 0,
  contributions: [{ workerId: 'w1', sampleCount: 4, loss: 1, accuracy: 0.5 }],
  lr: 0.1,
  ruleMetrics: {},
  stepMs: 10,
  bytesIn: 1,
  bytesOut: 1,
});

describe('RunRecorder system metrics', () => {
  it('logs the event-loop p99 and max at the step of the update that closes each window, shows the p99 live, and stops at the end', async () => {
    let now = 0;
    const monitor = new EventLoopMonitor(5);
    const live: MetricPoint[] = [];
    const progress: RunProgress[] = [];
    const rec = new RunRecorder(store, runId, { name: 'sys', totalUpdates: 10 }, { onMetrics: (_id, p) => live.push(...p), onProgress: (p) => progress.push(p) }, () => 1, {
      everyMs: 1000,
      now: () => now,
      monitor,
    });
    rec.recordUpdate(update(0)); // opens the first window
    expect(monitor.isRunning).toBe(true);
    await sleep(40); // the loop turns: delays are sampled
    now = 500;
    rec.recordUpdate(update(1));
    now = 1000;
    rec.recordUpdate(update(2));
    const sys = live.filter((p) => p.key.startsWith('sys/'));
    expect(sys.map((p) => [p.key, p.step]).sort()).toEqual([
      [SYSTEM_METRIC_KEYS.eventLoopMax, 3],
      [SYSTEM_METRIC_KEYS.eventLoopP99, 3],
    ]);
    const p99 = sys.find((p) => p.key === SYSTEM_METRIC_KEYS.eventLoopP99)!.value;
    expect(p99).toBeGreaterThanOrEqual(0);
    expect(progress.at(-1)?.eventLoopP99Ms).toBe(p99);
    expect(progress[0]?.eventLoopP99Ms).toBeUndefined();
    await rec.recordEnd({ status: 'finished', step: 3, reason: 'done' });
    expect(monitor.isRunning).toBe(false);
    expect((await store.getMetricHistory(runId, SYSTEM_METRIC_KEYS.eventLoopP99)).map((p) => [p.step, p.value])).toEqual([[3, p99]]);
  });
});
