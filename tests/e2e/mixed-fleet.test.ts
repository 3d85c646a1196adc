import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { validateRunConfig } from '../../core/config/run-config.ts';
import { readCheckpointFile } from '../../coordinator/run/checkpoint-file.ts';
import { syntheticConfig } from '../integration/support/harness.ts';
import { maxRelativeDifference, trainSingleProcess } from '../integration/support/reference-training.ts';
import {
  chromiumAvailable,
  collectPageErrors,
  tabSnapshot,
  waitForTabState,
  waitForWorkerCount,
} from './support/browser-harness.ts';
import { e2eSuite } from './support/e2e-suite.ts';
import { requireChromium } from '../support/require-dependency.ts';

const hasChromium = await chromiumAvailable();

/**
 * Cross-backend tolerance: WebGPU (SwiftShader here, a real GPU elsewhere) sums in a different
 * order and may use fused multiply-add, so its float32 gradients differ from the cpu backend's in
 * the last bits; over a dozen Adam updates that stays far below 1e-3 relative (floor 1e-3).
 */
const CROSS_BACKEND_TOLERANCE = 1e-3;

const suite = e2eSuite({ webgpu: true });

describe.skipIf(!hasChromium)(requireChromium(hasChromium).title('mixed fleet: 3 WebGPU tabs + 1 node worker'), () => {
  it(`trains one DDP run whose final parameters match single-process cpu training (max relative difference <= ${CROSS_BACKEND_TOLERANCE})`, async () => {
    const tabs: Page[] = [];
    const errors: string[][] = [];
    for (let i = 0; i < 3; i++) {
      const page = await suite.browser.newPage();
      errors.push(collectPageErrors(page));
      await page.goto(suite.env.contributeUrl({ backend: 'webgpu', name: `tab-${i + 1}` }));
      tabs.push(page);
    }
    for (const page of tabs) {
      const snap = await waitForTabState(page, ['waiting']);
      expect(snap.backend).toBe('webgpu');
      expect(snap.adapter).toMatch(/swiftshader|google|nvidia|amd|intel|apple/i);
    }
    suite.env.spawnNodeWorker('cpu');
    await waitForWorkerCount(suite.env.coordinator, 4);
    const kinds = suite.env.coordinator.workers().map((w) => `${w.kind}:${w.backend}`).sort();
    expect(kinds).toEqual(['browser:webgpu', 'browser:webgpu', 'browser:webgpu', 'node:cpu']);

    const updates = 10;
    // Equal slices: the test checks that every member (software-WebGPU tabs next to a node worker)
    // trains every update; throughput slices would rightly give the slow tabs less (hetero-fleet.test.ts).
    const cfg = syntheticConfig({ name: 'e2e-mixed-fleet', total_updates: updates, max_grad_norm: 1.0, min_workers: 4, slice_balance: 'equal' });
    const session = await suite.env.coordinator.startRun(validateRunConfig(cfg));
    const outcome = await session.done;
    expect(outcome.status).toBe('finished');

    const ckpt = await suite.env.coordinator.store.findCheckpoint(session.runId, 'latest');
    expect(ckpt?.step).toBe(updates);
    const { params } = await readCheckpointFile(ckpt!.path, ckpt!.sha256);
    const ref = await trainSingleProcess(cfg, 4, updates);
    const init = await trainSingleProcess(cfg, 4, 0);
    const diff = maxRelativeDifference(params, ref.params);
    console.log(`mixed fleet: max relative difference to single-process cpu = ${diff.toExponential(2)}`);
    expect(diff).toBeLessThanOrEqual(CROSS_BACKEND_TOLERANCE);
    // The comparison is between trained parameters, not two copies of the initial state.
    expect(maxRelativeDifference(ref.params, init.params)).toBeGreaterThan(1e-2);

    for (const [i, page] of tabs.entries()) {
      const snap = await waitForTabState(page, ['finished']);
      expect(snap.backend).toBe('webgpu');
      expect(snap.stepsDone).toBe(updates);
      expect(snap.bytesSent).toBeGreaterThan(0);
      expect(snap.dataset?.source).toMatch(/network|cache|memory/);
      expect(errors[i]).toEqual([]);
      expect((await tabSnapshot(page))?.runStatus).toBe('finished');
    }
  });
});
