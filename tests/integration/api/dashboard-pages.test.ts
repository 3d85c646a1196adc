import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { Coordinator } from '../../../coordinator/coordinator.ts';
import { ADMIN_TOKEN_STORAGE_KEY } from '../../../app/_dashboard/fetch-api.ts';
import { syntheticConfig } from '../support/harness.ts';
import { chromiumAvailable, launchChromium, startE2eCoordinator, type E2eCoordinator } from '../../e2e/support/browser-harness.ts';
import { requireChromium } from '../../support/require-dependency.ts';
import { validateSweepConfig } from '../../../core/sweep/sweep-config.ts';
import { coordinatorTrialBackend } from '../../../coordinator/sweep/coordinator-trial-backend.ts';
import { runTrackedSweep } from '../../../coordinator/sweep/run-sweep.ts';

const hasChromium = await chromiumAvailable();
/** Where page screenshots go (CI collects them as artifacts): CROWDTRAIN_SCREENSHOTS_DIR, else tests/e2e/screenshots (git-ignored). */
const screenshotDir = process.env.CROWDTRAIN_SCREENSHOTS_DIR ?? path.resolve('tests/e2e/screenshots');

describe.skipIf(!hasChromium)(requireChromium(hasChromium).title('dashboard pages in Chromium against a coordinator with real runs'), () => {
  let env: E2eCoordinator;
  let coordinator: Coordinator;
  let browser: Browser;
  let page: Page;
  const adminToken = randomBytes(24).toString('base64url');
  let finishedRunId = '';
  let externalRunId = '';

  const api = async (method: string, route: string, body?: unknown): Promise<Response> =>
    fetch(`${coordinator.url}${route}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const shot = async (name: string) => {
    await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage: true });
  };
  const chartPoints = async (key: string): Promise<number> => Number(await page.getByTestId(`chart-${key}`).getAttribute('data-points'));

  beforeAll(async () => {
    await mkdir(screenshotDir, { recursive: true });
    env = await startE2eCoordinator({ adminToken });
    coordinator = env.coordinator;
    await env.joinNodeWorkers(2);

    // A finished run trained by the fleet.
    const started = await api('POST', '/api/v1/runs', syntheticConfig({ name: 'dash-finished', total_updates: 30, eval_every: 10, checkpoint_every: 10 }));
    expect(started.status).toBe(201);
    finishedRunId = ((await started.json()) as { run: { id: string } }).run.id;
    expect((await coordinator.activeSession(finishedRunId)!.done).status).toBe('finished');

    // A run logged by an external script, to compare against.
    const ext = await api('POST', '/api/v1/runs/external', { name: 'dash-external', experiment: 'integration', params: { optimizer: { name: 'sgd', lr: 0.1 }, batch_size: 8 } });
    externalRunId = ((await ext.json()) as { run: { id: string } }).run.id;
    const points = Array.from({ length: 30 }, (_, i) => ({ key: 'train_loss', step: i, value: 1.2 * Math.exp(-i / 10) }));
    expect((await api('POST', `/api/v1/runs/${externalRunId}/log`, { metrics: points })).status).toBe(200);
    expect((await api('POST', `/api/v1/runs/${externalRunId}/end`, { status: 'finished' })).status).toBe(200);

    browser = await launchChromium({ webgpu: false });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await env?.cleanup();
  });

  it('the runs table lists both runs with their key metrics and filters by status and name', async () => {
    await page.goto(`${coordinator.url}/runs`);
    const rows = page.getByTestId('runs-table').locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(2);
    const finished = page.locator(`tr[data-run-id="${finishedRunId}"]`);
    await expect.poll(() => finished.textContent()).toMatch(/dash-finished.*finished.*30 \/ 30/);
    await shot('runs');
    await page.getByLabel('search by name').fill('external');
    await expect.poll(() => rows.count()).toBe(1);
    await expect.poll(() => rows.first().textContent()).toMatch(/dash-external/);
  });

  it('the run page of a finished run charts every metric with the right number of points, and shows params, checkpoints, fleet and events', async () => {
    await page.goto(`${coordinator.url}/runs/${finishedRunId}`);
    await expect.poll(() => page.getByTestId('run-name').textContent()).toBe('dash-finished');
    await expect.poll(() => chartPoints('train_loss')).toBe(30);
    await expect.poll(() => chartPoints('eval_accuracy')).toBe(3);
    expect(await page.getByTestId('chart-train_loss').locator('polyline').count()).toBe(1);
    expect(await page.getByTestId('run-params').textContent()).toMatch(/optimizer\.name.*adam/);
    await expect.poll(() => page.getByTestId('run-checkpoints').locator('tbody tr').count()).toBe(3);
    await expect.poll(() => page.getByTestId('run-fleet').locator('tbody tr').count()).toBe(2);
    expect(await page.getByTestId('event-timeline').textContent()).toMatch(/checkpoint/);
    // The latest evaluation's confusion matrix (3 synthetic classes; its cells count the 60 test samples) and report.
    const matrix = page.getByTestId('confusion-matrix');
    await expect.poll(() => matrix.locator('tbody tr').count()).toBe(3);
    const cells = (await matrix.locator('tbody td:not(:last-child)').allTextContents()).map(Number);
    expect([cells.length, cells.reduce((a, v) => a + v, 0)]).toEqual([9, 60]);
    expect(await page.getByTestId('classification-report').textContent()).toMatch(/macro avg.*weighted avg/);
    await page.getByLabel('log scale').check();
    await expect.poll(() => chartPoints('train_loss')).toBe(30);
    await shot('run-finished');
  });

  it('compare overlays the two runs on the same axes and diffs their params', async () => {
    await page.goto(`${coordinator.url}/compare?runs=${finishedRunId},${externalRunId}`);
    await expect.poll(() => chartPoints('train_loss')).toBe(60);
    expect(await page.getByTestId('chart-train_loss').locator('polyline').count()).toBe(2);
    const differs = page.getByTestId('param-diff').locator('tr[data-differs="true"]');
    await expect.poll(() => differs.count()).toBeGreaterThan(0);
    expect(await page.getByTestId('param-diff').textContent()).toMatch(/optimizer\.name.*adam.*sgd/);
    await shot('compare');
  });

  it('the registry shows a version registered from a checkpoint with its alias and lineage', async () => {
    const v = await api('POST', '/api/v1/models/dash-model/versions', { run_id: finishedRunId, checkpoint: 'latest', aliases: ['champion'] });
    expect(v.status).toBe(201);
    await page.goto(`${coordinator.url}/registry`);
    const model = page.getByTestId('model-dash-model');
    await expect.poll(() => model.textContent()).toMatch(/v1.*@champion.*dash-finished.*30/);
    await shot('registry');
  });

  it('datasets: a table uploaded through the page is stored and described; the run\'s data set version has a page with its class histogram', async () => {
    await page.goto(`${coordinator.url}/datasets`);
    await page.evaluate(([k, v]) => window.localStorage.setItem(k ?? '', v ?? ''), [ADMIN_TOKEN_STORAGE_KEY, adminToken]);
    await page.getByLabel('upload folder').fill('birds');
    await page.getByLabel('upload file').setInputFiles({ name: 'birds.csv', mimeType: 'text/csv', buffer: Buffer.from('wing,colour,species\n1.5,red,a\n2.5,blue,b\n3,red,a\n') });
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const result = page.getByTestId('upload-result');
    await expect.poll(() => result.textContent()).toMatch(/birds\.csv: 3 rows.*wing.*numeric.*colour.*categorical.*label: species/s);
    await expect.poll(() => page.getByTestId('uploads-table').textContent()).toMatch(/birds\/birds\.csv/);
    // The finished run's synthetic data set: one version, one run.
    const row = page.getByTestId('datasets-table').locator('tr', { hasText: 'synthetic' });
    await expect.poll(() => row.textContent()).toMatch(/synthetic.*v1.*builtin.*1.*1/);
    await shot('datasets');
    await row.getByRole('link', { name: 'synthetic' }).click();
    const version = page.getByTestId('dataset-version-1');
    await expect.poll(() => version.textContent()).toMatch(/v1.*dash-finished/s);
    // 3 synthetic classes, 240 train and 60 test samples.
    await expect.poll(() => version.getByLabel('class histogram').locator('tbody tr').count()).toBe(3);
    expect(await version.getByLabel('class histogram').textContent()).toMatch(/Train \(240\).*Test \(60\)/);
    await page.goto(`${coordinator.url}/runs/${finishedRunId}`);
    await expect.poll(() => page.getByTestId('run-dataset').textContent()).toMatch(/training data: synthetic v1 [0-9a-f]{12}/);
  });

  it('the sweeps page lists a finished sweep; its page shows one row per trial with the searched param and highlights the best', async () => {
    const sweep = validateSweepConfig({
      name: 'dash-sweep',
      base: syntheticConfig({ name: 'unused', total_updates: 4, eval_every: 2, checkpoint_every: 100 }),
      space: { 'optimizer.lr': { type: 'grid', values: [0.1, 0.0001] } },
      metric: 'eval_loss',
      mode: 'min',
      max_concurrent: 2,
      searcher: 'grid',
    });
    const { sweepId, best } = await runTrackedSweep(env.db, sweep, coordinatorTrialBackend(coordinator));
    await page.goto(`${coordinator.url}/sweeps`);
    await expect.poll(() => page.getByTestId('sweeps-table').textContent()).toContain('dash-sweep');
    await page.getByRole('link', { name: 'dash-sweep' }).click();
    await expect.poll(() => page.getByTestId('sweep-name').textContent()).toContain('dash-sweep');
    const rows = page.getByTestId('trials-table').locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(2);
    // The searched lr of each trial (0.0001 is shown as 1.00e-4).
    const lrs = (await rows.allTextContents()).map((text) => (text.includes('1.00e-4') ? 0.0001 : text.includes('0.1') ? 0.1 : null));
    expect(lrs.sort()).toEqual([0.0001, 0.1]);
    expect(await page.locator('tr[data-best="true"]').getAttribute('data-run-id')).toBe(best!.runId);
    expect(page.url()).toContain(`/sweeps/${sweepId}`);
    await shot('sweep');
  });

  it('new run shows config errors next to the field; the live run page updates, and its stop button stops the run', async () => {
    await page.goto(`${coordinator.url}/new`);
    await page.evaluate(([k, v]) => window.localStorage.setItem(k ?? '', v ?? ''), [ADMIN_TOKEN_STORAGE_KEY, adminToken]);
    await page.getByLabel(/Run config/).fill('name: bad\nmodel: { type: mlp, hidden: [4] }\ndataset: { name: synthetic, shape: [4], classes: 2 }\noptimizer: { name: adam, lr: 0.01 }\nbatch_size: -1\ntotal_updates: 10\n');
    await page.getByRole('button', { name: 'Start run' }).click();
    await expect.poll(() => page.getByTestId('field-errors').textContent()).toMatch(/batch_size \(line 5\)/);
    await shot('new-run-error');

    const yaml = ['name: dash-live', 'experiment: integration', 'model: { type: mlp, hidden: [16] }', 'dataset: { name: synthetic, shape: [12], classes: 3, train_size: 240, test_size: 60, seed: 5 }', 'optimizer: { name: adam, lr: 0.01 }', 'batch_size: 8', 'total_updates: 100000', 'eval_every: 25', 'checkpoint_every: 100000', ''].join('\n');
    await page.getByLabel(/Run config/).fill(yaml);
    await page.getByRole('button', { name: 'Start run' }).click();
    await page.waitForURL(/\/runs\/[A-Za-z0-9_-]+$/);
    const liveRunId = page.url().split('/').pop() ?? '';
    expect(coordinator.activeSession(liveRunId)).not.toBeNull();
    await expect.poll(() => page.getByTestId('run-status').textContent()).toBe('running');
    const first = await (async () => {
      await expect.poll(() => chartPoints('train_loss'), { timeout: 30_000 }).toBeGreaterThan(0);
      return chartPoints('train_loss');
    })();
    // New points arrive through the live stream without reloading the page.
    await expect.poll(() => chartPoints('train_loss'), { timeout: 30_000 }).toBeGreaterThan(first);

    await page.goto(`${coordinator.url}/fleet`);
    await expect.poll(() => page.getByTestId('fleet-table').locator('tbody tr').count()).toBe(2);
    expect(await page.getByTestId('fleet-table').textContent()).toMatch(/node.*cpu/);
    await shot('fleet');

    await page.goto(`${coordinator.url}/runs/${liveRunId}`);
    await shot('run-live');
    await page.getByRole('button', { name: 'Stop (checkpoint)' }).click();
    await expect.poll(() => page.getByTestId('run-status').textContent(), { timeout: 30_000 }).toBe('stopped');
    expect((await coordinator.store.getRun(liveRunId))?.status).toBe('stopped');
    expect(await coordinator.store.findCheckpoint(liveRunId, 'latest')).not.toBeNull();

    // Resume from the stop checkpoint: the page subscribes to the new live stream.
    const stoppedAt = (await coordinator.store.getRun(liveRunId))?.step ?? 0;
    await page.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => page.getByTestId('run-status').textContent(), { timeout: 30_000 }).toBe('running');
    expect(coordinator.activeSession(liveRunId)).not.toBeNull();
    await expect.poll(async () => (await coordinator.store.getRun(liveRunId))?.step ?? 0, { timeout: 30_000 }).toBeGreaterThan(stoppedAt);
    await coordinator.activeSession(liveRunId)?.stop('stopped', 'test done');
  });
});
