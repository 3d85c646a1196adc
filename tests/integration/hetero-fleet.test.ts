import { afterEach, describe, expect, it } from 'vitest';
import { validateRunConfig } from '../../core/config/run-config.ts';
import { LiveFleetSchema } from '../../core/api/fleet.ts';
import { readCheckpointFile } from '../../coordinator/run/checkpoint-file.ts';
import type { AppliedUpdate } from '../../coordinator/run/run-session.ts';
import { startTestCoordinator, syntheticConfig, waitForWorkers, type TestCoordinator } from './support/harness.ts';
import { joinTestWorker, type TestWorker } from './support/test-worker.ts';
import { slowedTasks } from './support/slowed-tasks.ts';
import { maxRelativeDifference, trainSingleProcess } from './support/reference-training.ts';
import { expectEveryEpochCoversEachSampleOnce } from './support/epoch-coverage.ts';

let t: TestCoordinator | null = null;
let workers: TestWorker[] = [];
afterEach(async () => {
  for (const w of workers) await w.close();
  workers = [];
  await t?.cleanup();
  t = null;
});

describe('a heterogeneous fleet: slices sized by speed, the same training', () => {
  it('a 6x slower worker gets smaller slices of the fixed global batch; every sample once per epoch; equal to tfjs SGD on the same global batches', async () => {
    t = await startTestCoordinator();
    const url = t.coordinator.url;
    const token = t.token;
    workers = [
      await joinTestWorker({ url, token, name: 'fast', tasks: slowedTasks(2) }),
      await joinTestWorker({ url, token, name: 'slow', tasks: slowedTasks(12) }),
    ];
    await waitForWorkers(t.coordinator, 2);
    const [fast, slow] = workers as [TestWorker, TestWorker];
    const UPDATES = 24;
    // global_batch_size = batch_size x 2, so the reference (batch_size x workers) draws the same batches.
    const common = syntheticConfig({ total_updates: UPDATES, batch_size: 16, global_batch_size: 32, min_workers: 2, optimizer: { name: 'sgd', lr: 0.1, momentum: 0.9 }, dataset: { name: 'synthetic', shape: [12], classes: 3, train_size: 256, test_size: 60, seed: 5 } });
    const updates: AppliedUpdate[] = [];
    // The fleet API, read while the run trains (a run's shares are per run: idle workers have none).
    const probe: { fleet: Promise<unknown> | null } = { fleet: null };
    t.coordinator.events.on('update', (u) => {
      updates.push(u);
      if (updates.length === UPDATES - 4) probe.fleet = fetch(`${url}/api/v1/fleet`).then((r) => r.json());
    });
    const session = await t.coordinator.startRun(validateRunConfig(common));
    expect((await session.done).status).toBe('finished');

    expect(updates).toHaveLength(UPDATES);
    for (const u of updates) expect(u.slices.reduce((a, s) => a + s.indices.length, 0)).toBe(32);
    const share = (u: AppliedUpdate, id: string) => u.slices.find((s) => s.workerId === id)?.indices.length ?? 0;
    const late = updates.slice(-8);
    const fastShare = late.reduce((a, u) => a + share(u, fast.workerId), 0) / late.length;
    const slowShare = late.reduce((a, u) => a + share(u, slow.workerId), 0) / late.length;
    // 6x slower per sample: the ideal split is about 27 : 5; equal slices would be 16 : 16.
    expect(fastShare).toBeGreaterThan(2.5 * slowShare);
    expectEveryEpochCoversEachSampleOnce(updates, 256, 3);
    // The fleet API shows each worker's share of the last update (what the fleet page lists).
    const fleet = LiveFleetSchema.parse(await probe.fleet);
    expect(fleet.runs.map((r) => [r.runId, r.workers])).toEqual([[session.runId, 2]]);
    const shareOf = (id: string) => fleet.workers.find((w) => w.id === id)?.share ?? NaN;
    expect(shareOf(fast.workerId) + shareOf(slow.workerId)).toBeCloseTo(1, 10);
    expect(shareOf(fast.workerId)).toBeGreaterThan(shareOf(slow.workerId));

    const ckpt = await t.coordinator.store.findCheckpoint(session.runId, 'latest');
    const params = (await readCheckpointFile(ckpt!.path, ckpt!.sha256)).params;
    const ref = await trainSingleProcess(common, 2, UPDATES);
    expect(maxRelativeDifference(params, ref.params)).toBeLessThanOrEqual(1e-4);
  });
});
