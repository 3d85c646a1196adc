import { afterEach, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { validateRunConfig } from '../../core/config/run-config.ts';
import { syntheticConfig } from '../integration/support/harness.ts';
import {
  chromiumAvailable,
  collectPageErrors,
  launchChromium,
  startE2eCoordinator,
  waitForTabState,
  waitForWorkerCount,
  type E2eCoordinator,
} from './support/browser-harness.ts';

const hasChromium = await chromiumAvailable();

let env: E2eCoordinator | null = null;
let browser: Browser | null = null;
afterEach(async () => {
  await browser?.close();
  browser = null;
  await env?.cleanup();
  env = null;
});

describe.skipIf(!hasChromium)('/contribute page states', () => {
  it('wrong token: the page says so and leaves no connection open', async () => {
    env = await startE2eCoordinator();
    browser = await launchChromium({ webgpu: false });
    const page = await browser.newPage();
    let sockets = 0;
    let openSockets = 0;
    page.on('websocket', (ws) => {
      sockets += 1;
      openSockets += 1;
      ws.on('close', () => (openSockets -= 1));
    });
    await page.goto(env.contributeUrl({ token: 'not-the-token', backend: 'cpu' }));
    const snap = await waitForTabState(page, ['bad-token', 'training', 'waiting', 'error']);
    expect(snap.state).toBe('bad-token');
    await expect.poll(() => page.getByTestId('contribute-message').textContent()).toMatch(/token is wrong/);
    expect(sockets).toBeGreaterThanOrEqual(1);
    await expect.poll(() => openSockets).toBe(0);
    expect(env.coordinator.workers()).toHaveLength(0);
  });

  it('without the WebGPU flag, auto falls back to WebGL, says why, and trains', async () => {
    env = await startE2eCoordinator();
    browser = await launchChromium({ webgpu: false });
    const page = await browser.newPage();
    const errors = collectPageErrors(page);
    await page.goto(env.contributeUrl({ name: 'tab-fallback' }));
    await waitForTabState(page, ['waiting']);
    await waitForWorkerCount(env.coordinator, 1);
    const session = await env.coordinator.startRun(validateRunConfig(syntheticConfig({ total_updates: 6, min_workers: 1 })));
    const outcome = await session.done;
    expect(outcome.status).toBe('finished');
    const snap = await waitForTabState(page, ['finished']);
    expect(snap.backend).toBe('webgl');
    expect(snap.stepsDone).toBe(6);
    expect(snap.fallbacks[0]?.backend).toBe('webgpu');
    await expect.poll(() => page.getByTestId('contribute-fallbacks').textContent()).toMatch(/webgpu skipped/);
    expect(errors).toEqual([]);
  });
});
