import { describe, expect, it } from 'vitest';

import { validateRunConfig } from '../../core/config/run-config.ts';
import { syntheticConfig } from '../integration/support/harness.ts';
import {
  chromiumAvailable,
  collectPageErrors,
  waitForTabState,
  waitForWorkerCount,
} from './support/browser-harness.ts';
import { e2eSuite } from './support/e2e-suite.ts';
import { requireChromium } from '../support/require-dependency.ts';

const hasChromium = await chromiumAvailable();

// One coordinator (and one Next.js app) per file: Next cannot be prepared twice in one process.
const suite = e2eSuite({ webgpu: false });

describe.skipIf(!hasChromium)(requireChromium(hasChromium).title('/contribute page states'), () => {
  it('wrong token: the page says so and leaves no connection open', async () => {
    const page = await suite.browser.newPage();
    let sockets = 0;
    let openSockets = 0;
    page.on('websocket', (ws) => {
      sockets += 1;
      openSockets += 1;
      ws.on('close', () => (openSockets -= 1));
    });
    await page.goto(suite.env.contributeUrl({ token: 'not-the-token', backend: 'cpu' }));
    const snap = await waitForTabState(page, ['bad-token', 'training', 'waiting', 'error']);
    expect(snap.state).toBe('bad-token');
    await expect.poll(() => page.getByTestId('contribute-message').textContent()).toMatch(/token is wrong/);
    expect(sockets).toBeGreaterThanOrEqual(1);
    await expect.poll(() => openSockets).toBe(0);
    expect(suite.env.coordinator.workers()).toHaveLength(0);
    await page.close();
  });

  it('without the WebGPU flag, auto falls back to WebGL, says why, and trains', async () => {
    const page = await suite.browser.newPage();
    const errors = collectPageErrors(page);
    await page.goto(suite.env.contributeUrl({ name: 'tab-fallback' }));
    await waitForTabState(page, ['waiting']);
    await waitForWorkerCount(suite.env.coordinator, 1);
    const session = await suite.env.coordinator.startRun(validateRunConfig(syntheticConfig({ total_updates: 6, min_workers: 1 })));
    const outcome = await session.done;
    expect(outcome.status).toBe('finished');
    const snap = await waitForTabState(page, ['finished']);
    expect(snap.backend).toBe('webgl');
    expect(snap.stepsDone).toBe(6);
    expect(snap.fallbacks[0]?.backend).toBe('webgpu');
    await expect.poll(() => page.getByTestId('contribute-fallbacks').textContent()).toMatch(/webgpu skipped/);
    expect(errors).toEqual([]);
    await page.close();
  });
  it('a tab trains a run with gradient_compression: fp16, sending 2 bytes per parameter', async () => {
    const page = await suite.browser.newPage();
    const errors = collectPageErrors(page);
    await page.goto(suite.env.contributeUrl({ backend: 'webgl', name: 'tab-fp16' }));
    await waitForTabState(page, ['waiting']);
    await waitForWorkerCount(suite.env.coordinator, 1);
    const session = await suite.env.coordinator.startRun(validateRunConfig(syntheticConfig({ name: 'e2e-fp16', total_updates: 6, min_workers: 1, gradient_compression: 'fp16' })));
    expect((await session.done).status).toBe('finished');
    const snap = await waitForTabState(page, ['finished']);
    expect(snap.stepsDone).toBe(6);
    const paramCount = snap.bytesReceived / snap.stepsDone / 4;
    expect(snap.bytesSent / snap.stepsDone).toBe(paramCount * 2);
    const bytesIn = (await suite.env.coordinator.store.getMetricHistory(session.runId, 'bytes_in')).map((p) => p.value);
    expect(bytesIn).toEqual(new Array<number>(6).fill(paramCount * 2));
    const rejected = (await suite.env.coordinator.store.listEvents(session.runId)).filter((e) => e.kind === 'update_rejected');
    expect(rejected).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('WASM tab: the binaries come from the coordinator; the data set is downloaded once, then read from the Cache API after a reload', async () => {
    const page = await suite.browser.newPage();
    const errors = collectPageErrors(page);
    await page.goto(suite.env.contributeUrl({ backend: 'wasm', name: 'tab-wasm' }));
    await waitForTabState(page, ['waiting']);
    const config = validateRunConfig(syntheticConfig({ name: 'e2e-wasm-cache', total_updates: 4, min_workers: 1 }));
    const first = await suite.env.coordinator.startRun(config);
    expect((await first.done).status).toBe('finished');
    const snap = await waitForTabState(page, ['finished']);
    expect(snap.backend).toBe('wasm');
    expect(snap.dataset?.source).toBe('network');

    await page.reload();
    await waitForTabState(page, ['waiting']);
    const second = await suite.env.coordinator.startRun(config);
    expect((await second.done).status).toBe('finished');
    const again = await waitForTabState(page, ['finished']);
    expect(again.dataset?.source).toBe('cache');
    expect(again.stepsDone).toBe(4);
    expect(errors).toEqual([]);
    await page.close();
  });
  it('the dashboard home page shows the join link with a QR code, and the link joins the fleet', async () => {
    const page = await suite.browser.newPage();
    await page.goto(`${suite.env.url}/`);
    const link = page.getByTestId('join-link');
    await link.waitFor();
    const href = await link.getAttribute('href');
    expect(href).toBe(`${suite.env.url}/contribute?token=${encodeURIComponent(suite.env.token)}`);
    await page.getByTestId('join-qr').waitFor();
    expect(await page.getByTestId('join-qr').getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    const before = suite.env.coordinator.workers().length;
    await link.click();
    await waitForTabState(page, ['waiting']);
    await waitForWorkerCount(suite.env.coordinator, before + 1);
    await page.close();
  });
});
