import { afterEach, describe, expect, it } from 'vitest';
import { validateRunConfig } from '../../core/config/run-config.ts';
import { startTestCoordinator, syntheticConfig, waitForWorkers, type TestCoordinator } from '../integration/support/harness.ts';
import { joinTestWorker, type TestWorker } from '../integration/support/test-worker.ts';

let t: TestCoordinator | null = null;
let worker: TestWorker | null = null;
afterEach(async () => {
  await worker?.close();
  worker = null;
  await t?.cleanup();
  t = null;
});

describe('a run that can never progress', () => {
  it('fails after max_failed_rounds rounds with every result rejected, saying what happened and what to change', async () => {
    t = await startTestCoordinator();
    // Every result is far beyond max_update_norm (what lr: 1e8 does to real gradients after one step).
    worker = await joinTestWorker({ url: t.coordinator.url, token: t.token, name: 'diverged', transformResult: (v) => v.map(() => 1e7) });
    await waitForWorkers(t.coordinator, 1);
    const session = await t.coordinator.startRun(validateRunConfig(syntheticConfig({ total_updates: 1000, max_failed_rounds: 6 })));
    const outcome = await session.done;
    expect(outcome.status).toBe('failed');
    expect(outcome.step).toBe(0);
    expect(outcome.reason).toMatch(/no update accepted in 6 consecutive rounds at step 0; the last rejection: NORM_TOO_LARGE/);
    expect(outcome.reason).toMatch(/lower the learning rate/);
    const run = await t.coordinator.store.getRun(session.runId);
    expect(run?.status).toBe('failed');
    const rejected = (await t.coordinator.store.listEvents(session.runId)).filter((e) => e.kind === 'update_rejected');
    expect(rejected).toHaveLength(6);
  });
});
