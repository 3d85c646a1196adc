import { afterEach } from 'vitest';
import { startTestCoordinator, type TestCoordinator } from '../../integration/support/harness.ts';
import { joinTestWorker, type TestWorker, type TestWorkerOptions } from '../../integration/support/test-worker.ts';

/** What a chaos test starts through {@link chaosFixture}; all of it is undone after each test. */
export interface ChaosFixture {
  /** Starts the test's coordinator (its own data dir and database), with the given options of startTestCoordinator. */
  start(opts?: Parameters<typeof startTestCoordinator>[0]): Promise<TestCoordinator>;
  /** Joins an in-process test worker to the started coordinator; closing it early is fine (close is idempotent). */
  join(opts?: Omit<TestWorkerOptions, 'url' | 'token'>): Promise<TestWorker>;
  /** Registers something else to undo after this test (kill an attacker process, destroy an open request). */
  onCleanup(undo: () => void | Promise<void>): void;
}

/**
 * The shared setup of the chaos tests: one coordinator, in-process test workers and whatever else
 * a test opens, undone after each test in one order — the registered cleanups (newest last), then
 * the workers, then the coordinator (which stops its spawned workers and removes its temp dir).
 * Call it once at the top of a test file (it registers an `afterEach`).
 * @example
 * const chaos = chaosFixture();
 * it('...', async () => {
 *   const t = await chaos.start();
 *   const worker = await chaos.join({ name: 'w0' });
 * });
 */
export function chaosFixture(): ChaosFixture {
  let t: TestCoordinator | null = null;
  const workers: TestWorker[] = [];
  const undos: (() => void | Promise<void>)[] = [];
  afterEach(async () => {
    for (const undo of undos.splice(0)) await undo();
    for (const w of workers.splice(0)) await w.close();
    await t?.cleanup();
    t = null;
  });
  return {
    async start(opts) {
      t = await startTestCoordinator(opts);
      return t;
    },
    async join(opts = {}) {
      if (t === null) throw new Error('chaosFixture: join() before start()');
      const worker = await joinTestWorker({ url: t.coordinator.url, token: t.token, ...opts });
      workers.push(worker);
      return worker;
    },
    onCleanup(undo) {
      undos.push(undo);
    },
  };
}
