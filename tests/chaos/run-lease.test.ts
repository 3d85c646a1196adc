import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Coordinator } from '../../coordinator/coordinator.ts';
import { validateRunConfig } from '../../core/config/run-config.ts';
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import { LeaseQueries } from '../../prisma/queries/lease-queries.ts';
import { startTestCoordinator, syntheticConfig, type TestCoordinator } from '../integration/support/harness.ts';
import { joinTestWorker, type TestWorker } from '../integration/support/test-worker.ts';

let t: TestCoordinator | null = null;
let second: Coordinator | null = null;
let otherDir: string | null = null;
let workers: TestWorker[] = [];
afterEach(async () => {
  for (const w of workers) await w.close();
  workers = [];
  await second?.close();
  second = null;
  await t?.cleanup();
  t = null;
  if (otherDir) await rm(otherDir, { recursive: true, force: true });
  otherDir = null;
});

/** A second coordinator on the same database as `t`, with its own data dir (so its own lease identity). */
async function secondCoordinator(first: TestCoordinator): Promise<Coordinator> {
  otherDir = await mkdtemp(path.join(os.tmpdir(), 'crowdtrain-lease-'));
  return Coordinator.start({ port: 0, host: '127.0.0.1', dataDir: otherDir, db: first.db, workerToken: randomBytes(18).toString('base64url') });
}

describe('a run lease in the database: two coordinators never train one run', () => {
  it('a second coordinator is refused with the holder named and nothing written; it resumes once the first has stopped the run', async () => {
    t = await startTestCoordinator();
    workers = [await joinTestWorker({ url: t.coordinator.url, token: t.token })];
    const session = await t.coordinator.startRun(validateRunConfig(syntheticConfig({ total_updates: 100_000, checkpoint_every: 5, eval_every: 100_000 })));
    const store = t.coordinator.store;
    while (session.status().step < 6) await new Promise((r) => setTimeout(r, 20));
    second = await secondCoordinator(t);
    const before = { checkpoints: (await store.listCheckpoints(session.runId)).length, events: (await store.listEvents(session.runId)).length };

    const refused = await second.resumeRun(session.runId).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CrowdtrainError);
    expect((refused as CrowdtrainError).code).toBe('RUN_CONFLICT');
    expect((refused as Error).message).toMatch(new RegExp(`run ${session.runId} is being trained by another coordinator \\(.*pid ${process.pid}.*\\).*expires at`));
    expect(second.activeRuns()).toEqual([]);
    // The refused resume rewound nothing and recorded nothing; the first keeps training.
    expect((await store.listEvents(session.runId)).filter((e) => e.kind === 'resumed')).toEqual([]);
    expect((await store.listCheckpoints(session.runId)).length).toBeGreaterThanOrEqual(before.checkpoints);
    const step = session.status().step;
    while (session.status().step < step + 3) await new Promise((r) => setTimeout(r, 20));

    // Stopped gracefully, the lease is released: the second coordinator takes the run at once.
    await t.coordinator.stopRun(session.runId);
    const resumed = await second.resumeRun(session.runId);
    expect(second.activeSession(session.runId)).not.toBeNull();
    await resumed.stop();
  });

  it('takes an expired lease over; the old holder can no longer renew it; concurrent takers get exactly one', async () => {
    t = await startTestCoordinator();
    const leases = new LeaseQueries(t.db.prisma);
    const runId = 'lease-test-run';
    const t0 = new Date('2026-12-01T00:00:00Z');
    expect(await leases.acquire(runId, 'A', 'coordinator A', 1000, t0)).toBeNull();
    expect(await leases.acquire(runId, 'A', 'coordinator A', 1000, new Date(t0.getTime() + 500))).toBeNull(); // its own: renewed
    const live = await leases.acquire(runId, 'B', 'coordinator B', 1000, new Date(t0.getTime() + 900));
    expect(live).toMatchObject({ holder: 'A', holderInfo: 'coordinator A' });
    // A stopped heartbeating: after expiry B takes it, and A's renewal fails.
    expect(await leases.acquire(runId, 'B', 'coordinator B', 1000, new Date(t0.getTime() + 1600))).toBeNull();
    expect(await leases.renew(runId, 'A', 1000, new Date(t0.getTime() + 1700))).toBe(false);
    expect(await leases.renew(runId, 'B', 1000, new Date(t0.getTime() + 1700))).toBe(true);
    await leases.release(runId, 'A'); // not A's: a no-op
    expect((await leases.get(runId))?.holder).toBe('B');
    await leases.release(runId, 'B');
    expect(await leases.get(runId)).toBeNull();

    const now = new Date();
    const takers = await Promise.all(['C', 'D', 'E', 'F'].map((h) => leases.acquire('race-run', h, `coordinator ${h}`, 60_000, now)));
    expect(takers.filter((r) => r === null)).toHaveLength(1);
  });
});
