/**
 * Rows a worker leaves behind (hardening item 15): a hello must not leave a permanent Worker row,
 * a worker that reconnects under its id keeps its one row, and commits from a worker that was never
 * assigned a run must not list it among the run's contributors. Real sockets, real database.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AckResult, CommitAccepted, GradCommitInput } from '../../core/protocol/messages.ts';
import { RunFleetSchema } from '../../core/api/fleet.ts';
import { RunListSchema } from '../../core/api/runs.ts';
import { validateRunConfig } from '../../core/config/run-config.ts';
import { startTestCoordinator, syntheticConfig, type TestCoordinator } from '../integration/support/harness.ts';
import { joinTestWorker, type TestWorker } from '../integration/support/test-worker.ts';

let t: TestCoordinator | null = null;
const workers: TestWorker[] = [];
afterEach(async () => {
  for (const w of workers.splice(0)) await w.close();
  await t?.cleanup();
  t = null;
});

async function join(opts: Omit<Parameters<typeof joinTestWorker>[0], 'url' | 'token'> = {}): Promise<TestWorker> {
  if (!t) throw new Error('no coordinator');
  const w = await joinTestWorker({ url: t.coordinator.url, token: t.token, ...opts });
  workers.push(w);
  return w;
}

/** Polls `read` until `done` holds (leaves are written off the socket path), then returns the last value. */
async function eventually<T>(read: () => Promise<T> | T, done: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (done(v) || Date.now() > until) return v;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function workerRows(c: TestCoordinator): Promise<string[]> {
  return c.db.prisma.worker.findMany({ select: { id: true }, orderBy: { id: 'asc' } }).then((rows) => rows.map((r) => r.id));
}

async function getJson(c: TestCoordinator, route: string): Promise<unknown> {
  const res = await fetch(`${c.coordinator.url}${route}`);
  expect(res.status).toBe(200);
  return res.json();
}

describe('worker rows', () => {
  it('30 workers that say hello and leave without contributing leave no Worker row (their Events stay)', async () => {
    const c = (t = await startTestCoordinator());
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const w = await join({ name: `throwaway-${i}` });
      ids.push(w.workerId);
      await w.close();
    }
    expect(new Set(ids).size).toBe(30);
    expect(await eventually(() => workerRows(c), (rows) => rows.length === 0)).toEqual([]);
    const left = await eventually(
      () => c.db.prisma.event.count({ where: { kind: 'worker_left', workerId: { in: ids } } }),
      (n) => n === 30,
    );
    expect(left).toBe(30);
    expect(await c.db.prisma.event.count({ where: { kind: 'worker_joined', workerId: { in: ids } } })).toBe(30);
  });

  it('a worker that reconnects under its id before its old connection is gone keeps its id and its one Worker row', async () => {
    const c = (t = await startTestCoordinator());
    const first = await join({ name: 'flaky' });
    const id = first.workerId;
    // The new connection arrives while the coordinator still holds the old one (a dropped network
    // the coordinator has not noticed yet): it takes the identity over, the old one is closed.
    const second = await join({ name: 'flaky', workerId: id });
    expect(second.workerId).toBe(id);
    expect(await eventually(() => first.connection.connected, (connected) => !connected)).toBe(false);
    expect(c.coordinator.workers().map((w) => w.id)).toEqual([id]);
    expect(await workerRows(c)).toEqual([id]);
    // Leaving and coming back later: the same id again, still one row while connected.
    await second.leave('pause');
    expect(await eventually(() => workerRows(c), (rows) => rows.length === 0)).toEqual([]);
    const back = second.nextEvent('joined');
    second.connection.resume();
    expect(await back).toMatchObject({ workerId: id, rejoined: true });
    expect(await eventually(() => workerRows(c), (rows) => rows.length === 1)).toEqual([id]);
  });
});

describe('contribution rows', () => {
  it('a 2-worker run lists its 2 workers: 30 junk commits from a non-member leave no row, a member’s rejected result is counted', async () => {
    const c = (t = await startTestCoordinator());
    const cfg = validateRunConfig(
      syntheticConfig({ name: 'junk-rows', total_updates: 10, eval_every: 100, checkpoint_every: 100, min_workers: 2 }),
    );
    const session = await c.coordinator.startRun(cfg);

    // Never assigned the run (it serves only another run), it commits to it anyway: well-formed
    // commits, and malformed ones.
    const outsider = await join({ name: 'outsider', pinRun: 'some-other-run' });
    const acks: AckResult<CommitAccepted>[] = [];
    for (let i = 0; i < 30; i++) {
      const commit = i % 3 === 0 ? { runId: session.runId, step: 'x' } : { runId: session.runId, step: i, paramsVersion: 0, sampleCount: 8, loss: 1, accuracy: 0.5, computeMs: 1 };
      acks.push((await outsider.socket.timeout(10_000).emitWithAck('grad:commit', commit as GradCommitInput)) as AckResult<CommitAccepted>);
    }
    expect(acks.map((a) => (a.ok ? 'accepted' : a.error.code))).toEqual(Array.from({ length: 30 }, () => 'NOT_ASSIGNED'));

    // A member whose first result is refused (NaN), and an honest one.
    const flawed = await join({ name: 'flawed', transformResult: (v, ctx) => (ctx.attempt === 0 ? v.slice().fill(Number.NaN) : v) });
    const honest = await join({ name: 'honest' });
    expect((await session.done).status).toBe('finished');
    const members = [flawed.workerId, honest.workerId].sort();

    const contributions = await c.coordinator.store.listContributions(session.runId);
    expect(contributions.map((r) => r.workerId).sort()).toEqual(members);
    const flawedRow = contributions.find((r) => r.workerId === flawed.workerId);
    expect(flawedRow?.rejected).toBeGreaterThanOrEqual(1);
    expect(flawedRow?.lastRejectReason).toMatch(/^NON_FINITE/);
    expect(contributions.reduce((a, r) => a + r.steps, 0)).toBeGreaterThanOrEqual(10);

    const fleet = RunFleetSchema.parse(await getJson(c, `/api/v1/runs/${session.runId}/fleet`));
    expect(fleet.workers.map((w) => w.id).sort()).toEqual(members);
    expect(fleet.totals.rejected).toBe(flawedRow?.rejected);
    const list = RunListSchema.parse(await getJson(c, '/api/v1/runs'));
    expect(list.runs.find((r) => r.id === session.runId)?.contributors).toBe(2);

    // The junk is still in the audit log, as Events.
    const events = await c.coordinator.store.listEvents(session.runId);
    expect(events.filter((e) => e.kind === 'update_rejected' && e.workerId === outsider.workerId).length).toBeGreaterThanOrEqual(1);

    // Everyone leaves: the members' rows stay (the run lists them), the outsider's goes.
    for (const w of workers.splice(0)) await w.close();
    expect(await eventually(() => workerRows(c), (rows) => rows.length === 2)).toEqual(members);
  });
});
