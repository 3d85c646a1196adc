import { afterEach, describe, expect, it } from 'vitest';
import { validateRunConfig } from '../../core/config/run-config.ts';
import type { AppliedUpdate } from '../../coordinator/run/run-session.ts';
import { startTestCoordinator, syntheticConfig, type TestCoordinator } from '../integration/support/harness.ts';
import { expectEveryEpochCoversEachSampleOnce } from '../integration/support/epoch-coverage.ts';

let t: TestCoordinator | null = null;
afterEach(async () => {
  await t?.cleanup();
  t = null;
});

describe('a worker killed with SIGKILL mid-run', () => {
  it('the run continues on the others, its slice is reassigned, every sample is trained once per epoch, and the leave is recorded', async () => {
    t = await startTestCoordinator();
    const procs = await t.joinWorkers(3);
    // 240 samples, global batch 3 x 16 = 48: five updates per epoch; 25 updates cover 5 epochs.
    const config = validateRunConfig(syntheticConfig({ batch_size: 16, total_updates: 25, min_workers: 3, eval_every: 100, checkpoint_every: 100 }));
    const updates: AppliedUpdate[] = [];
    t.coordinator.events.on('update', (u) => {
      updates.push(u);
      // Kill right after an update is applied: the next round has just been handed out, so the victim holds a slice.
      if (u.step === 6) procs[1]?.kill('SIGKILL');
    });
    const session = await t.coordinator.startRun(config);
    const outcome = await session.done;

    expect(outcome.status).toBe('finished');
    expect(outcome.step).toBe(25);
    // After the kill only two workers contribute.
    expect(updates.at(-1)?.slices).toHaveLength(2);

    expectEveryEpochCoversEachSampleOnce(updates, 240, 4);

    const events = await t.coordinator.store.listEvents(session.runId);
    const kinds = events.map((e) => e.kind);
    expect(kinds).toContain('worker_left');
    const reassigned = events.filter((e) => e.kind === 'slice_reassigned');
    expect(reassigned.length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(reassigned[0]?.detail)).toContain('worker left');
  });
});
