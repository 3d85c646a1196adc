import { afterEach, describe, expect, it } from 'vitest';
import { validateRunConfig } from '../../core/config/run-config.ts';
import { LiveFleetSchema, type LiveFleet } from '../../core/api/fleet.ts';
import { StatusSchema } from '../../core/api/status.ts';
import { readCheckpointFile } from '../../coordinator/run/checkpoint-file.ts';
import type { AppliedUpdate } from '../../coordinator/run/run-session.ts';
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import { startTestCoordinator, syntheticConfig, waitForWorkers, type TestCoordinator } from './support/harness.ts';
import { joinTestWorker, type TestWorker } from './support/test-worker.ts';
import { maxRelativeDifference, trainSingleProcess } from './support/reference-training.ts';
import { expectEveryEpochCoversEachSampleOnce } from './support/epoch-coverage.ts';

let t: TestCoordinator | null = null;
let workers: TestWorker[] = [];
afterEach(async () => {
  await Promise.all((t?.coordinator.activeRuns() ?? []).map((r) => r.stop('stopped', 'test cleanup')));
  for (const w of workers) await w.close();
  workers = [];
  await t?.cleanup();
  t = null;
});

async function fleetOf(c: TestCoordinator): Promise<LiveFleet> {
  return LiveFleetSchema.parse(await (await fetch(`${c.coordinator.url}/api/v1/fleet`)).json());
}

/** Polls `probe` until it returns true (no time limit of its own: the test's timeout bounds it). */
async function until(probe: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await probe())) await new Promise((r) => setTimeout(r, 20));
}

const DATA = { name: 'synthetic' as const, shape: [12], classes: 3, train_size: 192, test_size: 60, seed: 5 };

describe('several runs on one fleet', () => {
  it('two runs train at once, each equal to its own single-process replay; when one ends its workers move to the other without disconnecting', async () => {
    t = await startTestCoordinator();
    const { url } = t.coordinator;
    workers = await Promise.all([0, 1, 2, 3].map((i) => joinTestWorker({ url, token: t!.token, name: `w${i}` })));
    await waitForWorkers(t.coordinator, 4);
    // A fixed global batch (batch_size x 2, what the reference draws with 2 workers): the update is
    // the same whichever workers compute it, so the run may gain workers midway.
    const short = syntheticConfig({ name: 'short', seed: 3, total_updates: 10, batch_size: 8, global_batch_size: 16, min_workers: 2, optimizer: { name: 'sgd', lr: 0.1, momentum: 0.9 }, dataset: DATA, eval_every: 100, checkpoint_every: 100 });
    const long = syntheticConfig({ name: 'long', seed: 4, total_updates: 100_000, batch_size: 8, global_batch_size: 16, min_workers: 2, optimizer: { name: 'adam', lr: 0.01 }, dataset: DATA, eval_every: 100, checkpoint_every: 100 });
    const updates = new Map<string, AppliedUpdate[]>();
    t.coordinator.events.on('update', (u) => updates.set(u.runId, [...(updates.get(u.runId) ?? []), u]));
    const [a, b] = await Promise.all([t.coordinator.startRun(validateRunConfig(short)), t.coordinator.startRun(validateRunConfig(long))]);
    // Two concurrent starts: both active (in the order their sessions opened, which the database decides).
    expect(t.coordinator.activeRuns().map((r) => r.runId).sort()).toEqual([a.runId, b.runId].sort());

    // Equal priority: the fleet is shared 2 : 2 while both train (per-run fleet statistics).
    await until(async () => (await fleetOf(t!)).runs.every((r) => r.workers === 2));
    const shared = await fleetOf(t);
    expect(shared.runs.map((r) => [r.runId, r.workers]).sort()).toEqual(
      [
        [a.runId, 2],
        [b.runId, 2],
      ].sort(),
    );
    const membersOfA = shared.workers.filter((w) => w.runId === a.runId).map((w) => w.id);
    // The status API lists both runs and, per worker, the run it serves.
    const status = StatusSchema.parse(await (await fetch(`${url}/api/v1/status`)).json());
    expect(status.activeRuns.map((r) => r.runId).sort()).toEqual([a.runId, b.runId].sort());
    expect(status.workers.filter((w) => w.runId === a.runId).map((w) => w.id).sort()).toEqual([...membersOfA].sort());

    expect((await a.done).status).toBe('finished');
    // A's workers move to B: B then has all four, and nobody disconnected.
    await until(() => (updates.get(b.runId) ?? []).some((u) => membersOfA.every((id) => u.slices.some((s) => s.workerId === id))));
    const endB = await b.stop('stopped', 'checked');
    expect(endB.status).toBe('stopped');
    for (const w of workers) expect(w.events.filter((e) => e.type === 'disconnected')).toEqual([]);
    // Moves off A happen only while both train (A may first get every worker, then share with B);
    // when A ended its workers were freed by run:end, not moved off a live run.
    const moved = (await t.coordinator.store.listEvents(a.runId)).filter((e) => e.kind === 'worker_moved' || e.kind === 'worker_released');
    for (const e of moved) expect(e).toMatchObject({ kind: 'worker_moved', detail: { to: b.runId } });

    for (const [cfg, session, n] of [
      [short, a, 10],
      [long, b, endB.step],
    ] as const) {
      const ups = updates.get(session.runId)!;
      expect(ups).toHaveLength(n);
      for (const u of ups) expect(u.slices.reduce((s, sl) => s + sl.indices.length, 0)).toBe(16);
      const ckpt = await t.coordinator.store.findCheckpoint(session.runId, 'latest');
      const params = (await readCheckpointFile(ckpt!.path, ckpt!.sha256)).params;
      const ref = await trainSingleProcess(cfg, 2, n);
      expect(maxRelativeDifference(params, ref.params)).toBeLessThanOrEqual(1e-4);
    }
    expectEveryEpochCoversEachSampleOnce(updates.get(b.runId)!, DATA.train_size, 1);
  });

  it('placement respects priority, max_workers and pinning; a paused run lends its workers and gets them back', async () => {
    t = await startTestCoordinator();
    const { url } = t.coordinator;
    const endless = { total_updates: 100_000, eval_every: 100_000, checkpoint_every: 100_000, dataset: DATA };
    const low = await t.coordinator.startRun(validateRunConfig(syntheticConfig({ name: 'low', ...endless })));
    const high = await t.coordinator.startRun(validateRunConfig(syntheticConfig({ name: 'high', priority: 5, max_workers: 2, ...endless })));
    workers = await Promise.all([0, 1, 2].map((i) => joinTestWorker({ url, token: t!.token, name: `free${i}` })));
    const pinned = await joinTestWorker({ url, token: t.token, name: 'pinned', pinRun: low.runId });
    workers.push(pinned);
    const placement = async () => Object.fromEntries((await fleetOf(t!)).workers.map((w) => [w.name, w.runId]));
    const counts = async () => {
      const f = await fleetOf(t!);
      return Object.fromEntries(f.runs.map((r) => [r.name, r.workers]));
    };
    // high (priority 5) fills to its max of 2; the rest, and the worker pinned to low, serve low.
    await until(async () => JSON.stringify(await counts()) === JSON.stringify({ low: 2, high: 2 }));
    expect((await placement()).pinned).toBe(low.runId);

    // Pausing high lends its workers to low; they come back when it continues. No disconnects.
    await t.coordinator.pauseRun(high.runId);
    await until(async () => JSON.stringify(await counts()) === JSON.stringify({ low: 4, high: 0 }));
    // The move Events are written after the moves (not awaited by placement): polled, then exactly two.
    const moved = async () => (await t!.coordinator.store.listEvents(high.runId)).filter((e) => e.kind === 'worker_moved').length;
    await expect.poll(moved, { timeout: 10_000 }).toBe(2);
    await t.coordinator.unpauseRun(high.runId);
    await until(async () => JSON.stringify(await counts()) === JSON.stringify({ low: 2, high: 2 }));
    expect((await placement()).pinned).toBe(low.runId);
    // Both keep training.
    const stepOf = (id: string) => t!.coordinator.activeSession(id)!.status().step;
    const [l0, h0] = [stepOf(low.runId), stepOf(high.runId)];
    await until(() => stepOf(low.runId) > l0 + 2 && stepOf(high.runId) > h0 + 2);

    // Stopping low frees the pinned worker (idle: its run is gone) and its other worker goes to... high is at its max: idle too.
    await t.coordinator.stopRun(low.runId);
    await until(async () => (await fleetOf(t!)).totals.idle === 2);
    expect((await placement()).pinned).toBeNull();
    for (const w of workers) expect(w.events.filter((e) => e.type === 'disconnected')).toEqual([]);
  });

  it('concurrent starts: both run and can be stopped by id; at the limit exactly one starts and the other leaves no run behind; a run is never resumed twice', async () => {
    t = await startTestCoordinator({ maxActiveRuns: 1 });
    const cfg = validateRunConfig(syntheticConfig({ total_updates: 100_000, eval_every: 100_000, checkpoint_every: 100_000 }));
    const before = (await t.coordinator.store.listRuns({ take: 100 })).length;
    const results = await Promise.allSettled([t.coordinator.startRun({ ...cfg, name: 'race-1' }), t.coordinator.startRun({ ...cfg, name: 'race-2' })]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.reason).toBeInstanceOf(CrowdtrainError);
    expect((lost[0]!.reason as CrowdtrainError).code).toBe('RUN_CONFLICT');
    expect((lost[0]!.reason as Error).message).toMatch(/limit is 1/);
    // No invisible run: the database holds exactly the one that trains.
    const runs = await t.coordinator.store.listRuns({ take: 100 });
    expect(runs.length - before).toBe(1);
    const winner = t.coordinator.activeRuns();
    expect(winner.map((r) => r.runId)).toEqual([runs[0]!.id]);
    const stopped = await t.coordinator.stopRun(winner[0]!.runId);
    expect(stopped.status).toBe('stopped');

    // Two resumes of the same run at once: one trains, the other is refused.
    const resumes = await Promise.allSettled([t.coordinator.resumeRun(winner[0]!.runId), t.coordinator.resumeRun(winner[0]!.runId)]);
    expect(resumes.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = resumes.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect((refused?.reason as CrowdtrainError).code).toBe('RUN_CONFLICT');
    expect(t.coordinator.activeRuns()).toHaveLength(1);
    await t.coordinator.activeRuns()[0]!.stop();

    // Without the limit, two concurrent starts both train and each stops by its own id.
    await t.cleanup();
    t = await startTestCoordinator();
    const both = await Promise.all([t.coordinator.startRun({ ...cfg, name: 'both-1' }), t.coordinator.startRun({ ...cfg, name: 'both-2' })]);
    expect(t.coordinator.activeRuns().map((r) => r.runId).sort()).toEqual(both.map((s) => s.runId).sort());
    expect((await t.coordinator.stopRun(both[1].runId)).status).toBe('stopped');
    expect(t.coordinator.activeRuns().map((r) => r.runId)).toEqual([both[0].runId]);
    expect((await t.coordinator.store.getRun(both[1].runId))?.status).toBe('stopped');
    expect((await t.coordinator.store.getRun(both[0].runId))?.status).toBe('running');
  });

  it("caps a run's workers by its result memory instead of failing it, and refuses one whose min_workers cannot fit, naming the limit", async () => {
    // The synthetic MLP has 259 parameters (1,040 bytes a result in the arena): 6 slots' worth holds 4 workers.
    t = await startTestCoordinator({ resultMemoryBytes: 6 * 1040 });
    const { url } = t.coordinator;
    workers = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => joinTestWorker({ url, token: t!.token, name: `m${i}` })));
    await waitForWorkers(t.coordinator, 6);
    const run = await t.coordinator.startRun(validateRunConfig(syntheticConfig({ total_updates: 100_000, eval_every: 100_000, checkpoint_every: 100_000, dataset: DATA })));
    expect(run.paramCount).toBe(259);
    expect(run.memberCap).toBe(4);
    await until(async () => (await fleetOf(t!)).runs[0]?.workers === 4);
    const step = run.status().step;
    await until(() => run.status().step > step + 3);
    expect((await fleetOf(t)).totals.idle).toBe(2);
    const runsBefore = (await t.coordinator.store.listRuns({ take: 10 })).length;
    await expect(t.coordinator.startRun(validateRunConfig(syntheticConfig({ min_workers: 5, dataset: DATA })))).rejects.toThrow(
      /needs min_workers 5 results of 259 parameters in memory at once, but the result memory limit \(6240 bytes, --result-memory-mb\) holds 4/,
    );
    expect((await t.coordinator.store.listRuns({ take: 10 })).length).toBe(runsBefore); // refused before anything was recorded
  });
});
