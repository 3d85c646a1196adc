import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import { validateRunConfig } from '../../../core/config/run-config.ts';
import { startTestCoordinator, syntheticConfig, type TestCoordinator } from '../support/harness.ts';

let t: TestCoordinator | null = null;
afterEach(async () => {
  await t?.cleanup();
  t = null;
});

/** Reads server-sent events until `done` returns true for one; returns all events read. */
function readEvents(url: string, done: (event: string, data: unknown) => boolean): Promise<{ event: string; data: unknown }[]> {
  return new Promise((resolve, reject) => {
    const seen: { event: string; data: unknown }[] = [];
    const req = http.get(url, (res) => {
      expect(res.headers['content-type']).toMatch(/text\/event-stream/);
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let sep: number;
        while ((sep = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, sep);
          buf = buf.slice(sep + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (!event || data === undefined) continue;
          const parsed: unknown = JSON.parse(data);
          seen.push({ event, data: parsed });
          if (done(event, parsed)) {
            req.destroy();
            resolve(seen);
            return;
          }
        }
      });
      res.on('end', () => resolve(seen));
    });
    req.on('error', reject);
  });
}

describe('GET /api/v1/runs/:id/stream', () => {
  it('pushes metric points from memory as they are logged, then ends with the run', async () => {
    t = await startTestCoordinator();
    await t.joinWorkers(1);
    // min_workers 2: nothing is trained until the second worker joins, after the stream is open.
    const session = await t.coordinator.startRun(validateRunConfig(syntheticConfig({ total_updates: 40, eval_every: 10, min_workers: 2 })));
    const reading = readEvents(`${t.coordinator.url}/api/v1/runs/${session.runId}/stream`, (event) => event === 'ended');
    await t.joinWorkers(1);
    const events = await reading;
    const points = events
      .filter((e) => e.event === 'metrics')
      .flatMap((e) => (e.data as { points: { key: string; step: number; value: number }[] }).points);
    const loss = points.filter((p) => p.key === 'train_loss');
    expect(loss.length).toBeGreaterThan(0);
    expect(loss.map((p) => p.step)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    // The pushed values are the ones recorded in the database.
    const stored = await t.coordinator.store.getMetricHistory(session.runId, 'train_loss');
    for (const p of loss) expect(stored.find((s) => s.step === p.step)?.value).toBe(p.value);
    expect(points.some((p) => p.key === 'eval_accuracy')).toBe(true);
    expect(events.at(-1)).toMatchObject({ event: 'ended', data: { runId: session.runId, status: 'finished' } });
  });
});
