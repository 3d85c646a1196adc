import { afterEach, describe, expect, it } from 'vitest';
import { validateRunConfig } from '../../core/config/run-config.ts';
import type { AppliedUpdate } from '../../coordinator/run/run-session.ts';
import { startTestCoordinator, syntheticConfig, waitForWorkers, type TestCoordinator } from './support/harness.ts';
import { joinTestWorker, type TestWorker } from './support/test-worker.ts';
import { slowedTasks } from './support/slowed-tasks.ts';
import { expectEveryEpochCoversEachSampleOnce } from './support/epoch-coverage.ts';

let t: TestCoordinator | null = null;
let workers: TestWorker[] = [];
afterEach(async () => {
  for (const w of workers) await w.close();
  workers = [];
  await t?.cleanup();
  t = null;
});

describe('a worker’s declared maxBatch caps its slices', () => {
  it('the faster worker that fits 8 samples never gets more; the other takes the rest of the batch of 48; every sample once per epoch', async () => {
    t = await startTestCoordinator();
    const url = t.coordinator.url;
    const token = t.token;
    workers = [
      // By throughput the small one would take most of each batch: it is 6x faster per sample.
      await joinTestWorker({ url, token, name: 'small', maxBatch: 8, tasks: slowedTasks(1) }),
      await joinTestWorker({ url, token, name: 'roomy', tasks: slowedTasks(6) }),
    ];
    await waitForWorkers(t.coordinator, 2);
    const [small, roomy] = workers as [TestWorker, TestWorker];
    const UPDATES = 12;
    const config = syntheticConfig({ total_updates: UPDATES, batch_size: 24, global_batch_size: 48, min_workers: 2, dataset: { name: 'synthetic', shape: [12], classes: 3, train_size: 96, test_size: 30, seed: 5 } });
    const updates: AppliedUpdate[] = [];
    t.coordinator.events.on('update', (u) => updates.push(u));
    const session = await t.coordinator.startRun(validateRunConfig(config));
    expect((await session.done).status).toBe('finished');

    expect(updates).toHaveLength(UPDATES);
    const samplesOf = (u: AppliedUpdate, id: string) => u.slices.filter((s) => s.workerId === id).reduce((a, s) => a + s.indices.length, 0);
    for (const u of updates) {
      for (const s of u.slices.filter((sl) => sl.workerId === small.workerId)) expect(s.indices.length).toBeLessThanOrEqual(8);
      expect(samplesOf(u, small.workerId)).toBeLessThanOrEqual(8);
      expect(samplesOf(u, small.workerId) + samplesOf(u, roomy.workerId)).toBe(48);
    }
    // It did take part, up to its cap.
    expect(updates.some((u) => samplesOf(u, small.workerId) === 8)).toBe(true);
    expectEveryEpochCoversEachSampleOnce(updates, 96, 6);
  });
});
