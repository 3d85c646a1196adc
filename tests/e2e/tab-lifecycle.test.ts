import { afterEach, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { validateRunConfig } from '../../core/config/run-config.ts';
import type { AppliedUpdate } from '../../coordinator/run/run-session.ts';
import { syntheticConfig } from '../integration/support/harness.ts';
import { expectEveryEpochCoversEachSampleOnce } from '../integration/support/epoch-coverage.ts';
import {
  chromiumAvailable,
  collectPageErrors,
  waitForTabState,
  waitForWorkerCount,
} from './support/browser-harness.ts';
import { e2eSuite } from './support/e2e-suite.ts';
import { requireChromium } from '../support/require-dependency.ts';

const hasChromium = await chromiumAvailable();

const suite = e2eSuite({ webgpu: false });

// Every tab a test opens is closed after it, pass or fail, so one test's tabs never join the next test's run.
const openPages: Page[] = [];
afterEach(async () => {
  await Promise.all(openPages.splice(0).map((p) => p.close()));
  const stillThere = suite.env.coordinator.workers().length;
  if (stillThere > 0) await new Promise<void>((resolve) => {
    const check = () => {
      if (suite.env.coordinator.workers().length === 0) {
        suite.env.coordinator.events.off('worker-left', check);
        resolve();
      }
    };
    suite.env.coordinator.events.on('worker-left', check);
    check();
  });
  await Promise.all(suite.env.coordinator.activeRuns().map((run) => run.stop()));
});

async function openTab(name: string, backend = 'webgl'): Promise<Page> {
  const page = await suite.browser.newPage();
  openPages.push(page);
  await page.goto(suite.env.contributeUrl({ backend, name }));
  await waitForTabState(page, ['waiting', 'loading', 'training']);
  return page;
}

describe.skipIf(!hasChromium)(requireChromium(hasChromium).title('tabs that leave, pause and come back'), () => {
  it('a tab closed mid-run: the run continues, every sample is trained once per epoch; a new tab joins mid-run at the current params and paused tabs rejoin', async () => {
    const tabs = [await openTab('close-1'), await openTab('close-2'), await openTab('close-3')];
    await waitForWorkerCount(suite.env.coordinator, 3);
    // 240 samples, global batch 3 x 16 = 48: five updates per epoch.
    // Equal slices: the test asserts which members hold a slice in each update.
    const config = validateRunConfig(syntheticConfig({ name: 'e2e-tab-close', batch_size: 16, total_updates: 40, min_workers: 1, eval_every: 100, checkpoint_every: 100, slice_balance: 'equal' }));
    const updates: AppliedUpdate[] = [];
    const left: string[] = [];
    let reachedStep10: () => void = () => undefined;
    const step10 = new Promise<void>((resolve) => (reachedStep10 = resolve));
    suite.env.coordinator.events.on('worker-left', (_id, reason) => left.push(reason));
    suite.env.coordinator.events.on('update', (u) => {
      updates.push(u);
      // Close right after an update is applied: the next round has just been handed out, so the tab holds a slice.
      if (u.step === 6) void tabs[1]!.close();
      if (u.step === 10) reachedStep10();
    });
    const session = await suite.env.coordinator.startRun(config);
    // A tab that comes back: pause the two others (so the run cannot finish without it), open a
    // new tab, wait until it trains, then resume the others.
    // Fails fast (instead of hanging) if the run ends before step 10.
    const early = await Promise.race([step10.then(() => null), session.done]);
    expect(early, `run ended before step 10: ${JSON.stringify(early)}`).toBeNull();
    for (const p of [tabs[0]!, tabs[2]!]) await p.evaluate(() => window.__crowdtrainContribute!.pause());
    const back = await openTab('rejoin');
    await back.waitForFunction(() => (window.__crowdtrainContribute?.snapshot().stepsDone ?? 0) >= 2, undefined, { polling: 100 });
    for (const p of [tabs[0]!, tabs[2]!]) await p.evaluate(() => window.__crowdtrainContribute!.resume());
    const outcome = await session.done;
    expect(outcome.status).toBe('finished');
    expect(outcome.step).toBe(40);
    expect(left.length).toBeGreaterThanOrEqual(3); // the closed tab and the two pauses

    expectEveryEpochCoversEachSampleOnce(updates, 240, 4);
    const events = await suite.env.coordinator.store.listEvents(session.runId);
    expect(events.some((e) => e.kind === 'slice_reassigned')).toBe(true);

    // The tab that came back trained (so it had the current params: the coordinator rejects stale
    // gradients), and so did the resumed ones: the last update has three slices again.
    const snap = await waitForTabState(back, ['finished']);
    expect(snap.stepsDone).toBeGreaterThanOrEqual(2);
    expect(updates.at(-1)?.slices).toHaveLength(3);
  });

  it('a tab whose renderer crashes mid-step is a leave: its slice is reassigned at once, not at the step deadline, and every sample is trained once per epoch', async () => {
    const tabs = [await openTab('crash-1'), await openTab('crash-2'), await openTab('crash-3')];
    await waitForWorkerCount(suite.env.coordinator, 3);
    const victim = (await tabs[1]!.evaluate(() => window.__crowdtrainContribute!.snapshot().workerId))!;
    // A step deadline far beyond the test's own timeout: only the disconnect can free the slice.
    // Equal slices: with throughput weighting the victim may be a spare holding no slice when it crashes.
    const config = validateRunConfig(
      syntheticConfig({ name: 'e2e-tab-crash', batch_size: 16, total_updates: 25, min_workers: 1, eval_every: 100, checkpoint_every: 100, step_timeout: '30m', slice_balance: 'equal' }),
    );
    const updates: AppliedUpdate[] = [];
    const left = new Map<string, string>();
    // How many updates had been applied when the victim left: none after it may include its slice.
    let updatesBeforeLeave = -1;
    const onLeft = (id: string, reason: string) => {
      left.set(id, reason);
      if (id === victim) updatesBeforeLeave = updates.length;
    };
    suite.env.coordinator.events.on('worker-left', onLeft);
    const cdp = await tabs[1]!.context().newCDPSession(tabs[1]!);
    const crashed = new Promise<void>((resolve) => tabs[1]!.once('crash', () => resolve()));
    suite.env.coordinator.events.on('update', (u: AppliedUpdate) => {
      updates.push(u);
      if (u.step === 5) {
        // Freeze the victim's main thread, so it sits on the slice it holds (step 6, or 7 if it got
        // step 6 done first) and the round cannot finish without it; then crash its renderer.
        void tabs[1]!
          .evaluate(() => {
            while (Date.now() > 0) {
              // spin
            }
          })
          .catch(() => undefined);
        setTimeout(() => void cdp.send('Page.crash').catch(() => undefined), 500);
      }
    });
    const session = await suite.env.coordinator.startRun(config);
    await crashed;
    const outcome = await session.done;
    suite.env.coordinator.events.off('worker-left', onLeft);
    expect(outcome.status).toBe('finished');
    expect(outcome.step).toBe(25);
    expect(left.get(victim)).toMatch(/^disconnected: /);

    expectEveryEpochCoversEachSampleOnce(updates, 240, 3);
    // The crashed tab's slice went to the others; it never contributed after it left. Frozen, the
    // victim is a straggler: a backup task may answer its slice before the crash (then no slice is
    // in flight to reassign when it leaves), else its leave reassigns the slice it holds.
    const events = await suite.env.coordinator.store.listEvents(session.runId);
    const takenOver = events.filter(
      (e) => (e.kind === 'slice_reassigned' && e.workerId === victim) || (e.kind === 'backup_answered' && (e.detail as { slowWorker?: string }).slowWorker === victim),
    );
    expect(takenOver.length).toBeGreaterThan(0);
    expect(updatesBeforeLeave).toBeGreaterThanOrEqual(6);
    expect(updates.slice(updatesBeforeLeave).every((u) => u.slices.every((sl) => sl.workerId !== victim))).toBe(true);
    for (const p of [tabs[0]!, tabs[2]!]) expect((await waitForTabState(p, ['finished'])).stepsDone).toBeGreaterThan(7);
  });

  it('pause leaves the run and resume rejoins it; no tensor leak between step 10 and step 300', async () => {
    const page = await openTab('pause-leak');
    const errors = collectPageErrors(page);
    const config = validateRunConfig(syntheticConfig({ name: 'e2e-pause-leak', batch_size: 8, total_updates: 320, min_workers: 1, eval_every: 1000, checkpoint_every: 1000 }));
    const session = await suite.env.coordinator.startRun(config);

    await page.waitForFunction(() => (window.__crowdtrainContribute?.snapshot().stepsDone ?? 0) >= 20, undefined, { polling: 100 });
    const tabWorkerId = (await waitForTabState(page, ['training'])).workerId;
    const workerLeft = new Promise<string>((resolve) => {
      const onLeft = (id: string, reason: string) => {
        if (id !== tabWorkerId) return; // a tab of the previous test closing late
        suite.env.coordinator.events.off('worker-left', onLeft);
        resolve(reason);
      };
      suite.env.coordinator.events.on('worker-left', onLeft);
    });
    await page.getByTestId('pause-button').click();
    expect(await workerLeft).toMatch(/paused/);
    expect((await waitForTabState(page, ['paused'])).state).toBe('paused');
    expect(suite.env.coordinator.workers().map((w) => w.id)).not.toContain(tabWorkerId);
    const stepsWhilePaused = session.status().step;

    await page.getByTestId('pause-button').click();
    await waitForTabState(page, ['waiting', 'loading', 'training']);
    const outcome = await session.done;
    expect(outcome.status).toBe('finished');
    expect(outcome.step).toBeGreaterThan(stepsWhilePaused);
    const snap = await waitForTabState(page, ['finished']);
    expect(snap.backend).toBe('webgl');
    const at10 = snap.tensorsAtStep[10];
    const at300 = snap.tensorsAtStep[300];
    expect(at10).toBeGreaterThan(0);
    expect(at300).toBe(at10);
    expect(errors).toEqual([]);
  });
  it('a tab hidden for 10 s leaves the run, and rejoins when it is visible again', async () => {
    const page = await suite.browser.newPage();
    openPages.push(page);
    await page.goto(suite.env.contributeUrl({ backend: 'cpu', name: 'background', leaveInBackground: true }));
    const { workerId } = await waitForTabState(page, ['waiting']);
    const left = new Promise<string>((resolve) => {
      const onLeft = (id: string, reason: string) => {
        if (id !== workerId) return;
        suite.env.coordinator.events.off('worker-left', onLeft);
        resolve(reason);
      };
      suite.env.coordinator.events.on('worker-left', onLeft);
    });
    const setVisibility = (state: 'hidden' | 'visible') =>
      page.evaluate((s) => {
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => s });
        document.dispatchEvent(new Event('visibilitychange'));
      }, state);
    await setVisibility('hidden');
    expect(await left).toMatch(/paused/);
    await waitForTabState(page, ['paused']);
    await setVisibility('visible');
    await waitForTabState(page, ['waiting']);
    await waitForWorkerCount(suite.env.coordinator, 1);
  });
});
