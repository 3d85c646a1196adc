import { afterEach, describe, expect, it } from 'vitest';
import { validateRunConfig } from '../../core/config/run-config.ts';
import { startTestCoordinator, syntheticConfig, type TestCoordinator } from './support/harness.ts';

let t: TestCoordinator | null = null;
afterEach(async () => {
  await t?.cleanup();
  t = null;
});

describe('time_limit', () => {
  it('stops gracefully before the limit, with a checkpoint at the step it stopped', async () => {
    t = await startTestCoordinator();
    await t.joinWorkers(1);
    const started = Date.now();
    const session = await t.coordinator.startRun(validateRunConfig(syntheticConfig({ total_updates: 10_000_000, time_limit: '3s', eval_every: 1_000_000 })));
    const outcome = await session.done;
    const elapsed = Date.now() - started;
    expect(outcome.status).toBe('stopped');
    expect(outcome.reason).toMatch(/time_limit/);
    expect(outcome.step).toBeGreaterThan(0);
    // The stop comes before the limit (a margin of 5%, at least 1 s).
    expect(elapsed).toBeLessThan(3000);
    const ckpt = await t.coordinator.store.findCheckpoint(session.runId, 'latest');
    expect(ckpt?.step).toBe(outcome.step);
    const events = await t.coordinator.store.listEvents(session.runId);
    expect(events.some((e) => e.kind === 'checkpoint' && JSON.stringify(e.detail).includes('time_limit'))).toBe(true);
    expect((await t.coordinator.store.getRun(session.runId))?.status).toBe('stopped');
  });
});
