import { afterAll, describe, expect, it } from 'vitest';

import { validateRunConfig } from '../../core/config/run-config.ts';
import { syntheticConfig } from '../integration/support/harness.ts';
import { joinZeroGradientClient, type ZeroGradientClient } from '../integration/support/zero-gradient-client.ts';
import { chromiumAvailable, waitForWorkerCount } from './support/browser-harness.ts';
import { e2eSuite } from './support/e2e-suite.ts';
import { requireChromium } from '../support/require-dependency.ts';

const hasChromium = await chromiumAvailable();

const suite = e2eSuite({ webgpu: false });
let rogue: ZeroGradientClient | null = null;
afterAll(() => rogue?.close());

describe.skipIf(!hasChromium)(requireChromium(hasChromium).title('the live fleet page'), () => {
  it('marks the worker whose gradients disagree with the fleet, and only that one', async () => {
    await suite.env.joinNodeWorkers(3);
    rogue = await joinZeroGradientClient(suite.env.url, suite.env.token);
    await waitForWorkerCount(suite.env.coordinator, 4);
    // Equal slices: throughput weighting can give an honest worker a slice so small that its
    // gradient's direction is mostly noise, which this detector (tuned on equal slices) reads as disagreement.
    const config = syntheticConfig({ name: 'e2e-outlier', batch_size: 32, total_updates: 100_000, min_workers: 4, eval_every: 100_000, checkpoint_every: 100_000, optimizer: { name: 'sgd', lr: 0.05 }, slice_balance: 'equal' });
    await suite.env.coordinator.startRun(validateRunConfig({ ...config, dataset: { name: 'synthetic', shape: [12], classes: 3, train_size: 1200, test_size: 60, seed: 5, noise: 1.0 } }));
    const id = rogue.workerId;
    await expect.poll(() => suite.env.coordinator.workers().filter((w) => w.gradientOutlier).map((w) => w.id), { timeout: 60_000 }).toEqual([id]);

    const page = await suite.browser.newPage();
    await page.goto(`${suite.env.url}/fleet`);
    const rows = page.getByTestId('fleet-table').locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(4);
    const rogueRow = page.locator(`tr[data-worker-id="${rogue.workerId}"]`);
    await expect.poll(() => rogueRow.getByTestId('gradient-outlier').count()).toBe(1);
    expect(await rogueRow.getByTestId('gradient-outlier').textContent()).toBe('disagrees');
    expect(await rogueRow.getByTestId('gradient-outlier').getAttribute('title')).toMatch(/check this worker's backend/);
    // Only the rogue is marked. Polled: the page is live, and an honest worker's smoothed agreement can
    // dip for an update under noise (the hysteresis clears it), which a one-shot read would catch.
    const flaggedRows = () => page.locator('tr[data-worker-id]').filter({ has: page.getByTestId('gradient-outlier') }).evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-worker-id')));
    await expect.poll(flaggedRows, { timeout: 30_000 }).toEqual([rogue.workerId]);
    await page.close();
    await Promise.all(suite.env.coordinator.activeRuns().map((run) => run.stop()));
  });
});
