import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { parseRunConfig, validateRunConfig } from '../../core/config/run-config.ts';
import { installDatasetFileSource } from '../../core/data/csv/dataset-file-source.ts';
import { installNodeDatasetFiles } from '../../worker-node/node-dataset-files.ts';
import { REPO_ROOT, chromiumAvailable, collectPageErrors, waitForTabState, waitForWorkerCount } from './support/browser-harness.ts';
import { e2eSuite } from './support/e2e-suite.ts';
import { requireChromium } from '../support/require-dependency.ts';

const hasChromium = await chromiumAvailable();
const suite = e2eSuite({ webgpu: true });
// The coordinator (in this process) reads the csv files; the tabs have none and download the split.
beforeAll(() => installNodeDatasetFiles({ baseDir: REPO_ROOT }));
afterAll(() => installDatasetFileSource(null));

describe.skipIf(!hasChromium)(requireChromium(hasChromium).title('two WebGPU tabs train your own table (the loans csv shards)'), () => {
  it('download the encoded train split, show the storage quota, and train the run to finished above the majority class', async () => {
    const tabs: Page[] = [];
    const errors: string[][] = [];
    for (let i = 0; i < 2; i++) {
      const page = await suite.browser.newPage();
      errors.push(collectPageErrors(page));
      await page.goto(suite.env.contributeUrl({ backend: 'webgpu', name: `csv-tab-${i + 1}` }));
      tabs.push(page);
    }
    for (const page of tabs) await waitForTabState(page, ['waiting']);
    await waitForWorkerCount(suite.env.coordinator, 2);

    const example = parseRunConfig(readFileSync(path.join(REPO_ROOT, 'configs/loans-csv.yaml'), 'utf8'), 'configs/loans-csv.yaml');
    const updates = 30;
    const config = validateRunConfig({ ...example, name: 'e2e-tab-csv', total_updates: updates, eval_every: 15, checkpoint_every: 1000, min_workers: 2, slice_balance: 'equal' });
    const session = await suite.env.coordinator.startRun(config);
    expect((await session.done).status).toBe('finished');
    const acc = (await suite.env.coordinator.store.getMetricHistory(session.runId, 'eval_accuracy')).map((p) => p.value);
    console.log(`tabs on the loans csv: eval_accuracy ${acc.map((a) => a.toFixed(3)).join(' -> ')}`);
    expect(acc.at(-1)!).toBeGreaterThan(0.6); // the majority class ("decline") is 40%

    for (const [i, page] of tabs.entries()) {
      const snap = await waitForTabState(page, ['finished']);
      expect(snap.stepsDone).toBe(updates);
      expect(snap.dataset).toMatchObject({ name: 'csv-train', size: 1200 });
      expect(snap.dataset?.source).toMatch(/network|cache|memory/);
      // Chromium reports the origin's storage (the Cache API holds the split): usage within the quota.
      expect(snap.storage?.quota).toBeGreaterThan(0);
      expect(snap.storage!.usage).toBeLessThanOrEqual(snap.storage!.quota);
      await expect.poll(() => page.getByTestId('storage-quota').textContent()).toMatch(/Browser storage: .* of .* used/);
      expect(errors[i]).toEqual([]);
    }
  });
});
