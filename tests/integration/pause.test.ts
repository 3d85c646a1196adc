import { afterEach, describe, expect, it } from 'vitest';
import { validateRunConfig } from '../../core/config/run-config.ts';
import type { AppliedUpdate } from '../../coordinator/run/run-session.ts';
import { startTestCoordinator, syntheticConfig, type TestCoordinator } from './support/harness.ts';

let t: TestCoordinator | null = null;
afterEach(async () => {
  await t?.cleanup();
  t = null;
});

describe('pause and unpause', () => {
  it('a paused run records it, loses no sample, and finishes exactly after unpause', async () => {
    t = await startTestCoordinator();
    await t.joinWorkers(2);
    const c = t.coordinator;
    const session = await c.startRun(validateRunConfig(syntheticConfig({ batch_size: 8, total_updates: 30, min_workers: 2, eval_every: 100 })));
    const updates: AppliedUpdate[] = [];
    const pausedAt = new Promise<number>((resolve) => {
      c.events.on('update', (u) => {
        updates.push(u);
        if (u.step === 5) {
          void c.pauseRun(session.runId).then(() => resolve(session.status().step));
        }
      });
    });
    const step = await pausedAt;
    expect((await c.store.getRun(session.runId))?.status).toBe('paused');
    expect(session.status().status).toBe('paused');
    await expect(c.unpauseRun('other-run')).rejects.toThrow(/not training/);
    await c.unpauseRun(session.runId);
    const outcome = await session.done;
    expect(outcome).toMatchObject({ status: 'finished', step: 30 });
    expect(step).toBeGreaterThanOrEqual(6);
    const kinds = (await c.store.listEvents(session.runId)).map((e) => e.kind);
    expect(kinds).toContain('paused');
    expect(kinds).toContain('unpaused');
    // 240 samples, global batch 16: 15 updates per epoch; both epochs cover every sample once.
    const perEpoch = new Map<number, number[]>();
    for (const u of updates) perEpoch.set(u.epoch, [...(perEpoch.get(u.epoch) ?? []), ...u.slices.flatMap((s) => s.indices)]);
    expect(perEpoch.get(0)?.length).toBe(240);
    expect(new Set(perEpoch.get(0)).size).toBe(240);
    expect(new Set(perEpoch.get(1)).size).toBe(240);
  });
});
