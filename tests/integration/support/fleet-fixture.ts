import { afterEach } from 'vitest';
import { startTestCoordinator, waitForWorkers, type TestCoordinator } from './harness.ts';
import { joinTestWorker, type TestWorker, type TestWorkerOptions } from './test-worker.ts';

/** How to start a fleet's coordinator: the options of {@link startTestCoordinator}. */
export type FleetCoordinatorOptions = NonNullable<Parameters<typeof startTestCoordinator>[0]>;

/** One worker of a fleet: a test worker's options, less the coordinator's url and token (filled in). */
export type FleetWorkerOptions = Omit<TestWorkerOptions, 'url' | 'token'>;

/** A coordinator and the in-process test workers that {@link FleetFixture.start} joined to it. */
export interface TestFleet {
  t: TestCoordinator;
  workers: TestWorker[];
}

/** What a test starts through {@link fleetFixture}; all of it is undone after each test. */
export interface FleetFixture {
  /**
   * Starts a coordinator, joins one in-process test worker per entry of `workers` (all at once) and
   * waits until the coordinator counts them. A test may start several (a resume onto a second coordinator).
   */
  start(workers: readonly FleetWorkerOptions[], coordinator?: FleetCoordinatorOptions): Promise<TestFleet>;
  /** Closes every worker joined so far in this test, in join order (a test that moves its fleet to another coordinator). */
  closeWorkers(): Promise<void>;
}

/**
 * The shared setup of the tests that train on a fleet of in-process test workers, undone after
 * each test in one order: the active runs stopped (with `stopActiveRuns`), then every worker, then
 * every coordinator in start order (which stops its spawned workers and removes its temp dir).
 * Call it once at the top of a test file (it registers an `afterEach`).
 * @example
 * const fleet = fleetFixture();
 * it('...', async () => {
 *   const { t, workers } = await fleet.start([{ name: 'w0' }, { name: 'w1' }]);
 * });
 */
export function fleetFixture(opts: { stopActiveRuns?: boolean } = {}): FleetFixture {
  let coordinators: TestCoordinator[] = [];
  const workers: TestWorker[] = [];
  const closeWorkers = async () => {
    for (const w of workers.splice(0)) await w.close();
  };
  afterEach(async () => {
    if (opts.stopActiveRuns) {
      for (const t of coordinators) await Promise.all(t.coordinator.activeRuns().map((r) => r.stop('stopped', 'test cleanup')));
    }
    await closeWorkers();
    for (const t of coordinators) await t.cleanup();
    coordinators = [];
  });
  return {
    async start(workerOptions, coordinator) {
      const t = await startTestCoordinator(coordinator);
      coordinators.push(t);
      const joined = await Promise.all(workerOptions.map((w) => joinTestWorker({ url: t.coordinator.url, token: t.token, ...w })));
      workers.push(...joined);
      await waitForWorkers(t.coordinator, workerOptions.length);
      return { t, workers: joined };
    },
    closeWorkers,
  };
}
