import { afterEach, describe, expect, it } from 'vitest';
import { validateRunConfig } from '../../core/config/run-config.ts';
import { startTestCoordinator, syntheticConfig, waitForWorkers, type TestCoordinator } from '../integration/support/harness.ts';
import { joinZeroGradientClient, type ZeroGradientClient } from '../integration/support/zero-gradient-client.ts';

let t: TestCoordinator | null = null;
let rogue: ZeroGradientClient | null = null;
afterEach(async () => {
  rogue?.close();
  rogue = null;
  await t?.cleanup();
  t = null;
});

describe('a worker whose gradients disagree with the fleet', () => {
  it('is flagged (Event + live fleet) while its valid-looking zero gradients are still accepted; honest workers are not', async () => {
    t = await startTestCoordinator();
    await t.joinWorkers(3);
    rogue = await joinZeroGradientClient(t.coordinator.url, t.token);
    await waitForWorkers(t.coordinator, 4);

    const session = await t.coordinator.startRun(validateRunConfig(syntheticConfig({ batch_size: 32, total_updates: 10, min_workers: 4, eval_every: 100, optimizer: { name: 'sgd', lr: 0.05 }, dataset: { name: 'synthetic', shape: [12], classes: 3, train_size: 1200, test_size: 60, seed: 5, noise: 1.0 } })));
    const outcome = await session.done;
    expect(outcome.status).toBe('finished');

    const events = await t.coordinator.store.listEvents(session.runId);
    const outliers = events.filter((e) => e.kind === 'gradient_outlier');
    expect(outliers.map((e) => e.workerId)).toEqual([rogue.workerId]);
    expect(JSON.stringify(outliers[0]?.detail)).toMatch(/disagree with the rest of the fleet/);
    const live = (await (await fetch(`${t.coordinator.url}/api/v1/fleet`)).json()) as { workers: { id: string; gradientOutlier: boolean }[] };
    const flagged = live.workers.filter((w) => w.gradientOutlier).map((w) => w.id);
    expect(flagged).toEqual([rogue.workerId]);
    expect(live.workers).toHaveLength(4);
  });
});
