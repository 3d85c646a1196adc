/**
 * hetero-fleet: what a fleet of one fast and one slow worker trains, against the sum of what each
 * trains alone, measured in the same process one after the other (`ratio` = fleet samples/s ÷
 * (fast solo + slow solo); target ≥ 0.85). The slow worker is the fast one plus a per-sample wait
 * (a tab or a laptop 8x slower), so the two do not compete for this machine's 2 cores and the
 * figure shows scheduling, not CPU contention. The same fleet with `slice_balance: equal` (every
 * update waits for the slow worker's equal slice) is reported beside it.
 */
import type { BenchResult } from './bench-result.ts';
import { validateRunConfig } from '../core/config/run-config.ts';
import type { AppliedUpdate } from '../coordinator/run/run-session.ts';
import { startTestCoordinator, syntheticConfig, waitForWorkers } from '../tests/integration/support/harness.ts';
import { joinTestWorker, type TestWorker } from '../tests/integration/support/test-worker.ts';
import { slowedTasks } from '../tests/integration/support/slowed-tasks.ts';

const GLOBAL_BATCH = 128;
const UPDATES = 30;
const WARMUP = 8;
/** Extra wait per sample of each worker (ms): the slow one is about 8x slower than the fast one here. */
const FAST_MS_PER_SAMPLE = 1;
const SLOW_MS_PER_SAMPLE = 8;

/** Trains `UPDATES` updates with the given workers; samples/s over the updates after the warm-up, and the slow worker's mean share. */
async function measure(speeds: number[], balance: 'throughput' | 'equal'): Promise<{ samplesPerSec: number; slowShare: number | null }> {
  const t = await startTestCoordinator();
  const workers: TestWorker[] = [];
  try {
    for (const [i, ms] of speeds.entries()) workers.push(await joinTestWorker({ url: t.coordinator.url, token: t.token, name: `w${i}`, tasks: slowedTasks(ms) }));
    await waitForWorkers(t.coordinator, speeds.length);
    const applied: { at: number; u: AppliedUpdate }[] = [];
    t.coordinator.events.on('update', (u) => applied.push({ at: performance.now(), u }));
    const config = validateRunConfig(
      syntheticConfig({
        name: 'hetero-fleet',
        model: { type: 'mlp', hidden: [64] },
        dataset: { name: 'synthetic', shape: [32], classes: 4, train_size: 4096, test_size: 64, seed: 3 },
        optimizer: { name: 'sgd', lr: 0.05 },
        batch_size: GLOBAL_BATCH,
        global_batch_size: GLOBAL_BATCH,
        slice_balance: balance,
        total_updates: UPDATES,
        min_workers: speeds.length,
        eval_every: 100_000,
        checkpoint_every: 100_000,
      }),
    );
    const session = await t.coordinator.startRun(config);
    await session.done;
    const window = applied.slice(WARMUP);
    const first = window[0];
    const last = window.at(-1);
    if (!first || !last || window.length < 2) throw new Error(`only ${applied.length} updates applied`);
    const samples = window.slice(1).reduce((a, w) => a + w.u.slices.reduce((b, s) => b + s.indices.length, 0), 0);
    const slowId = speeds.length > 1 ? workers[speeds.indexOf(Math.max(...speeds))]?.workerId : undefined;
    const slowShare = slowId
      ? window.reduce((a, w) => a + (w.u.slices.find((s) => s.workerId === slowId)?.indices.length ?? 0), 0) / window.length / GLOBAL_BATCH
      : null;
    return { samplesPerSec: samples / ((last.at - first.at) / 1000), slowShare };
  } finally {
    for (const w of workers) await w.close();
    await t.cleanup();
  }
}

/** Runs the bench. */
export default async function heteroFleet(): Promise<BenchResult> {
  const fast = await measure([FAST_MS_PER_SAMPLE], 'throughput');
  const slow = await measure([SLOW_MS_PER_SAMPLE], 'throughput');
  const fleet = await measure([FAST_MS_PER_SAMPLE, SLOW_MS_PER_SAMPLE], 'throughput');
  const equal = await measure([FAST_MS_PER_SAMPLE, SLOW_MS_PER_SAMPLE], 'equal');
  const baseline = fast.samplesPerSec + slow.samplesPerSec;
  const ratio = fleet.samplesPerSec / baseline;
  console.log(
    `hetero-fleet: fast solo ${fast.samplesPerSec.toFixed(0)}, slow solo ${slow.samplesPerSec.toFixed(0)}, fleet ${fleet.samplesPerSec.toFixed(0)} samples/s ` +
      `(slow share ${((fleet.slowShare ?? 0) * 100).toFixed(1)}%); equal slices ${equal.samplesPerSec.toFixed(0)}`,
  );
  return {
    name: 'hetero-fleet',
    value: fleet.samplesPerSec,
    baseline,
    ratio,
    unit: 'samples/s',
    target: 'ratio >= 0.85',
    pass: ratio >= 0.85,
    details: {
      globalBatch: GLOBAL_BATCH,
      updates: UPDATES,
      warmupUpdates: WARMUP,
      msPerSampleAdded: { fast: FAST_MS_PER_SAMPLE, slow: SLOW_MS_PER_SAMPLE },
      fastSoloSamplesPerSec: fast.samplesPerSec,
      slowSoloSamplesPerSec: slow.samplesPerSec,
      fleetSamplesPerSec: fleet.samplesPerSec,
      slowWorkerShareOfBatch: fleet.slowShare,
      equalSlicesSamplesPerSec: equal.samplesPerSec,
      equalSlicesRatio: equal.samplesPerSec / baseline,
    },
  };
}
