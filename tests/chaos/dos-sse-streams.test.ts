import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { validateRunConfig } from '../../core/config/run-config.ts';
import { MAX_STREAMS_PER_ADDRESS, MAX_STREAMS_TOTAL } from '../../coordinator/http/routes/stream.ts';
import { syntheticConfig } from '../integration/support/harness.ts';
import { chaosFixture } from './support/chaos-fixture.ts';

const chaos = chaosFixture();

interface Stream {
  status: number;
  req: http.ClientRequest;
  body: Promise<string>;
  /** Resolves once this many `event:` blocks arrived. */
  events(n: number): Promise<void>;
}

/** Opens one run stream (a fresh TCP connection, destroyed after the test) and resolves with its status once the headers arrive. */
function openStream(url: string, localAddress?: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, ...(localAddress === undefined ? {} : { localAddress }) }, (res) => {
      let buf = '';
      const waiters: { n: number; resolve: () => void }[] = [];
      const count = () => buf.split('\nevent: ').length - 1 + (buf.startsWith('event: ') ? 1 : 0);
      res.setEncoding('utf8');
      const body = new Promise<string>((done) => {
        res.on('data', (chunk: string) => {
          buf += chunk;
          for (let i = waiters.length - 1; i >= 0; i--) if (count() >= waiters[i]!.n) waiters.splice(i, 1)[0]!.resolve();
        });
        res.on('end', () => done(buf));
        res.on('close', () => done(buf));
      });
      resolve({
        status: res.statusCode ?? 0,
        req,
        body,
        events: (n) => (count() >= n ? Promise.resolve() : new Promise((r) => waiters.push({ n, resolve: r }))),
      });
    });
    chaos.onCleanup(() => void req.destroy());
    req.on('error', reject);
  });
}

describe('run streams are capped (issue 15, item 5)', () => {
  it('over the per-address cap: 429 naming the limit; the others still get events through one shared fan-out; closing frees a slot', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const t = await chaos.start();
    await t.joinWorkers(2);
    const session = await t.coordinator.startRun(validateRunConfig(syntheticConfig({ total_updates: 1_000_000, eval_every: 1_000_000, checkpoint_every: 1_000_000, min_workers: 2 })));
    const url = `${t.coordinator.url}/api/v1/runs/${session.runId}/stream`;
    const listenersBefore = t.coordinator.events.listenerCount('progress');

    const streams: Stream[] = [];
    for (let i = 0; i < MAX_STREAMS_PER_ADDRESS; i++) streams.push(await openStream(url));
    expect(streams.map((s) => s.status)).toEqual(Array.from({ length: MAX_STREAMS_PER_ADDRESS }, () => 200));
    const extra = await openStream(url);
    expect(extra.status).toBe(429);
    const refusal = JSON.parse(await extra.body) as { error: { message: string }; limit: { name: string; value: number } };
    expect(refusal.limit).toEqual({ name: 'MAX_STREAMS_PER_ADDRESS', value: MAX_STREAMS_PER_ADDRESS });
    expect(refusal.error.message).toMatch(/limit 8 per address/);

    // One set of listeners for the run, however many streams; every stream gets live events.
    expect(t.coordinator.events.listenerCount('progress') - listenersBefore).toBe(1);
    await Promise.all(streams.map((s) => s.events(3)));

    // Closing one frees its slot.
    const closed = streams.shift()!;
    closed.req.destroy();
    await closed.body;
    // The server sees the close a moment after the client: a few bounded retries.
    let again = await openStream(url);
    for (let i = 0; i < 20 && again.status === 429; i++) {
      await new Promise((r) => setTimeout(r, 50));
      again = await openStream(url);
    }
    expect(again.status).toBe(200);
    await again.events(2);

    // All closed: the fan-out detaches.
    for (const s of [...streams, again]) {
      s.req.destroy();
      await s.body;
    }
    await new Promise<void>((r) => setImmediate(r));
    expect(t.coordinator.events.listenerCount('progress')).toBe(listenersBefore);
    process.off('warning', onWarning);
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it(`the total cap: ${MAX_STREAMS_TOTAL} streams from many addresses, then 429 naming the total limit`, async () => {
    const t = await chaos.start();
    await t.joinWorkers(1);
    const session = await t.coordinator.startRun(validateRunConfig(syntheticConfig({ total_updates: 1_000_000, eval_every: 1_000_000, checkpoint_every: 1_000_000, min_workers: 1 })));
    const url = `${t.coordinator.url}/api/v1/runs/${session.runId}/stream`;
    // Loopback is all of 127/8 on Linux: each address stays under its own cap of 8.
    const addresses = Array.from({ length: MAX_STREAMS_TOTAL / MAX_STREAMS_PER_ADDRESS }, (_, i) => `127.0.0.${i + 2}`);
    const streams = await Promise.all(addresses.flatMap((a) => Array.from({ length: MAX_STREAMS_PER_ADDRESS }, () => openStream(url, a))));
    expect(streams.filter((s) => s.status === 200)).toHaveLength(MAX_STREAMS_TOTAL);
    const extra = await openStream(url, `127.0.0.${addresses.length + 2}`);
    expect(extra.status).toBe(429);
    const refusal = JSON.parse(await extra.body) as { limit: { name: string; value: number } };
    expect(refusal.limit).toEqual({ name: 'MAX_STREAMS_TOTAL', value: MAX_STREAMS_TOTAL });
    // The coordinator still trains and answers while they are open.
    const step = session.status().step;
    await expect.poll(() => session.status().step, { timeout: 20_000 }).toBeGreaterThan(step + 2);
    expect((await fetch(`${t.coordinator.url}/healthz`)).status).toBe(200);
    for (const s of streams) s.req.destroy();
  });
});
