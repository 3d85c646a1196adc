import { describe, expect, it } from 'vitest';
import { validateRunConfig } from '../../core/config/run-config.ts';
import { syntheticConfig, waitForWorkers } from '../integration/support/harness.ts';
import { chaosFixture } from './support/chaos-fixture.ts';

const chaos = chaosFixture();

describe('a run that can never progress', () => {
  it('fails after max_failed_rounds rounds with every result rejected, saying what happened and what to change', async () => {
    const t = await chaos.start();
    // Every result is far beyond max_update_norm (what lr: 1e8 does to real gradients after one step).
    await chaos.join({ name: 'diverged', transformResult: (v) => v.map(() => 1e7) });
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
