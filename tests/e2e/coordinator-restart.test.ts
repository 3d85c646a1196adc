import { describe, expect, it } from 'vitest';

import { validateRunConfig } from '../../core/config/run-config.ts';
import { syntheticConfig } from '../integration/support/harness.ts';
import { chromiumAvailable, waitForTabState, waitForWorkerCount } from './support/browser-harness.ts';
import { e2eSuite } from './support/e2e-suite.ts';
import { requireChromium } from '../support/require-dependency.ts';

const hasChromium = await chromiumAvailable();

const suite = e2eSuite({ webgpu: false });

describe.skipIf(!hasChromium)(requireChromium(hasChromium).title('coordinator unreachable'), () => {
  it('the tab says the coordinator is unreachable, retries with backoff, and rejoins and trains when it is back', async () => {
    const page = await suite.browser.newPage();
    await page.goto(suite.env.contributeUrl({ backend: 'cpu', name: 'tab-restart' }));
    await waitForTabState(page, ['waiting']);
    const stopped = await suite.env.stopCoordinator();
    const snap = await waitForTabState(page, ['unreachable']);
    expect(snap.message).toMatch(/unreachable|reconnecting/i);
    await page.waitForFunction(() => (window.__crowdtrainContribute?.snapshot().retries ?? 0) >= 2, undefined, { polling: 100 });

    const coordinator = await stopped.startAgain();
    await waitForWorkerCount(coordinator, 1);
    await waitForTabState(page, ['waiting']);
    const session = await coordinator.startRun(validateRunConfig(syntheticConfig({ name: 'e2e-after-restart', total_updates: 3, min_workers: 1 })));
    expect((await session.done).status).toBe('finished');
    const done = await waitForTabState(page, ['finished']);
    expect(done.stepsDone).toBe(3);
    await page.close();
  });
});
