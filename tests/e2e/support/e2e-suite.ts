/**
 * The one coordinator (with its Next app) and the one Chromium that the tests of an e2e file
 * share: started in beforeAll, closed in afterAll. One per file because Next cannot be prepared
 * twice in one process. Without Chromium nothing starts (the file's describe.skipIf skips).
 */
import { afterAll, beforeAll } from 'vitest';
import type { Browser } from 'playwright-core';
import { chromiumAvailable, launchChromium, startE2eCoordinator, type E2eCoordinator } from './browser-harness.ts';

/** Set once the file's beforeAll has run. */
export interface E2eSuite {
  env: E2eCoordinator;
  browser: Browser;
}

/**
 * Registers the file's beforeAll/afterAll; call at the top level of a test file. Hooks a file
 * registers after this one run after the suite is up and before it is torn down.
 * @example const suite = e2eSuite({ webgpu: false }); ... await suite.browser.newPage();
 */
export function e2eSuite(opts: { webgpu: boolean }): E2eSuite {
  const suite: Partial<E2eSuite> = {};
  beforeAll(async () => {
    if (!(await chromiumAvailable())) return;
    suite.env = await startE2eCoordinator();
    suite.browser = await launchChromium({ webgpu: opts.webgpu });
  });
  afterAll(async () => {
    await suite.browser?.close();
    await suite.env?.cleanup();
  });
  return suite as E2eSuite;
}
