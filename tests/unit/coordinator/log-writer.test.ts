import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, defaultDatabaseUrl, type Database } from '../../../prisma/db.ts';
import { TrackingStore } from '../../../prisma/queries/tracking-store.ts';
import { ChunkSizer, FIRST_WRITE_ROWS, LogBatchWriter } from '../../../coordinator/http/log-writer.ts';

let dir: string;
let db: Database;
let store: TrackingStore;
let experimentId: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'crowdtrain-log-writer-'));
  db = await openDatabase({ url: defaultDatabaseUrl(dir) });
  store = new TrackingStore(db);
  experimentId = (await store.ensureExperiment('log-writer')).id;
});

afterAll(async () => {
  await db?.close();
  await rm(dir, { recursive: true, force: true });
});

const newRun = async (name: string) => (await store.createRun({ experimentId, name, mode: 'ddp', config: {}, seed: 1, totalUpdates: 1 })).id;

/** Counts turns of the event loop (one per check phase) until stopped. */
function countTurns(): { stop: () => number } {
  let turns = 0;
  let running = true;
  const tick = () => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  return {
    stop: () => {
      running = false;
      return turns;
    },
  };
}

describe('ChunkSizer', () => {
  it('starts small, sizes each chunk from the last write time per row, grows at most 2x, and stays in [1, max]', () => {
    const s = new ChunkSizer(10, 50);
    expect(s.size).toBe(FIRST_WRITE_ROWS);
    s.observe(10, 1); // 0.1 ms a row: 100 fit the budget, but growth is capped at 2x
    expect(s.size).toBe(20);
    s.observe(20, 2);
    expect(s.size).toBe(40);
    s.observe(40, 1);
    expect(s.size).toBe(50); // max
    s.observe(50, 100); // 2 ms a row: 5 fit
    expect(s.size).toBe(5);
    s.observe(5, 1000);
    expect(s.size).toBe(1);
    s.observe(1, 0);
    expect(s.size).toBe(2);
    expect(() => new ChunkSizer(0, 5)).toThrow(/write budget must be > 0 ms, got 0/);
    expect(() => new ChunkSizer(10, 0)).toThrow(/max rows per write must be a positive integer, got 0/);
  });
});

describe('LogBatchWriter', () => {
  it('writes params in chunks with the rows one logParams call writes (same dotted keys, texts and last-wins order)', async () => {
    const params = {
      optimizer: { name: 'adam', lr: 0.001, betas: [0.9, 0.999] },
      'optimizer.lr': 0.5, // the same dotted key as optimizer.lr: the later one wins
      layers: [64, 10],
      flags: { on: true, none: null, empty: {} },
      note: 'a "quoted" text',
      ...Object.fromEntries(Array.from({ length: 23 }, (_, i) => [`p${i}`, i])),
    };
    const whole = await newRun('whole');
    const chunked = await newRun('chunked');
    await store.logParams(whole, params);
    const writer = new LogBatchWriter(store, { maxParamsPerWrite: 3 });
    const turns = countTurns();
    const count = await writer.writeParams(chunked, params);
    const turned = turns.stop();
    expect(await store.getParams(chunked)).toEqual(await store.getParams(whole));
    expect(count).toBe(32);
    const writes = writer.writes.filter((w) => w.kind === 'params');
    expect(writes.length).toBeGreaterThanOrEqual(Math.ceil(32 / 3));
    expect(writes.every((w) => w.rows <= 3)).toBe(true);
    expect(writes.reduce((a, w) => a + w.rows, 0)).toBe(32);
    // The event loop turned before each write.
    expect(turned).toBeGreaterThanOrEqual(writes.length);
  });

  it('writes metric points in chunks, all of them, the event loop turning between chunks', async () => {
    const run = await newRun('metrics');
    const points = Array.from({ length: 250 }, (_, i) => ({ key: `m${i % 5}`, step: Math.floor(i / 5), value: i / 7 }));
    const writer = new LogBatchWriter(store, { maxMetricsPerWrite: 40 });
    const turns = countTurns();
    await writer.writeMetrics(run, points);
    const turned = turns.stop();
    const writes = writer.writes;
    expect(writes.every((w) => w.kind === 'metrics' && w.rows <= 40)).toBe(true);
    expect(writes.length).toBeGreaterThanOrEqual(Math.ceil(250 / 40));
    expect(turned).toBeGreaterThanOrEqual(writes.length);
    const history = await store.getMetricHistory(run, 'm3');
    expect(history.map((p) => [p.step, p.value])).toEqual(Array.from({ length: 50 }, (_, s) => [s, (s * 5 + 3) / 7]));
  });

  it('a write that fails midway keeps the chunks before it (each chunk is its own transaction) and rejects with the store error', async () => {
    const run = await newRun('partial');
    const points = Array.from({ length: 30 }, (_, i) => ({ key: 'loss', step: i, value: i === 25 ? Number.NaN : i }));
    const writer = new LogBatchWriter(store, { maxMetricsPerWrite: 10 });
    await expect(writer.writeMetrics(run, points)).rejects.toThrow(/metric "loss" at step 25 has value NaN/);
    const stored = (await store.getMetricHistory(run, 'loss')).map((p) => p.step);
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.length).toBeLessThan(25);
    expect(stored).toEqual(Array.from({ length: stored.length }, (_, i) => i));
  });

  it('refuses chunk limits that are not positive integers', () => {
    expect(() => new LogBatchWriter(store, { maxParamsPerWrite: 0 })).toThrow(/maxParamsPerWrite must be a positive integer, got 0/);
    expect(() => new LogBatchWriter(store, { maxMetricsPerWrite: 1.5 })).toThrow(/maxMetricsPerWrite must be a positive integer, got 1.5/);
  });
});
