/**
 * Robust aggregation over real sockets (issue 10; issue 15 item 6): DDP on a small MNIST MLP with
 * 5 honest workers and 2 attackers that send their real gradient sign-flipped and scaled to just
 * under `max_update_norm` (0.99 x), so every update passes validation. With the mean the run
 * falls to chance; multi-Krum stays within 2 points of the clean run (the same 7 workers, none
 * attacking, mean), median and trimmed mean within 5 (their known bias: with 2 of 7 inputs on one
 * side, each coordinate lands on the 2nd honest order statistic), Krum (one 64-sample gradient
 * per update) within 8. Measured (docs/robustness.md): clean 86.6%, mean 5.4%, multi-Krum 86.7%,
 * median 84.3%, trimmed mean 83.7%, Krum 81.7%. Every bound fails if an aggregator degrades to
 * the mean. One coordinator and one fleet serve the runs in turn; the attackers' switch is the
 * only difference between them. To keep CI short this test runs 4 of those runs (clean, mean,
 * median, multi-Krum: 4 x 40 updates, about 35 s of CPU); trimmed mean and Krum were measured the
 * same way once (the figures above) and are covered by their unit and property tests. Smaller
 * runs did not reach a stable accuracy to compare against.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateRunConfig, type RunConfigInput } from '../../core/config/run-config.ts';
import type { AggregatorSpecInput } from '../../core/aggregate/robust/index.ts';
import { startTestCoordinator, waitForWorkers, type TestCoordinator } from './support/harness.ts';
import { joinTestWorker, type TestWorker } from './support/test-worker.ts';

const HONEST = 5;
const ATTACKERS = 2;
const MAX_UPDATE_NORM = 50;

let t: TestCoordinator;
const workers: TestWorker[] = [];
let attacking = false;

/** The sign-flip attack: -g scaled to 0.99 x the norm bound, computed from the worker's real gradient. */
function signFlipNearBound(values: Float32Array): Float32Array {
  if (!attacking) return values;
  let sum = 0;
  for (const v of values) sum += v * v;
  const scale = (-0.99 * MAX_UPDATE_NORM) / Math.sqrt(sum);
  return values.map((v) => v * scale);
}

beforeAll(async () => {
  t = await startTestCoordinator();
  const { url, token } = { url: t.coordinator.url, token: t.token };
  for (let i = 0; i < HONEST; i++) workers.push(await joinTestWorker({ url, token, name: `honest-${i}` }));
  for (let i = 0; i < ATTACKERS; i++) workers.push(await joinTestWorker({ url, token, name: `attacker-${i}`, transformResult: signFlipNearBound }));
  await waitForWorkers(t.coordinator, HONEST + ATTACKERS);
});

afterAll(async () => {
  for (const w of workers) await w.close();
  await t?.cleanup();
});

/** One run to the end: its final test accuracy and its per-update `aggregator_excluded` metric. */
async function finalAccuracy(name: string, aggregator: AggregatorSpecInput | undefined, attack: boolean): Promise<{ accuracy: number; excluded: number[] }> {
  attacking = attack;
  const cfg: RunConfigInput = {
    name,
    experiment: 'robust-aggregation',
    seed: 3,
    model: { type: 'mlp', hidden: [32] },
    dataset: { name: 'mnist', train_size: 2000, test_size: 1000 },
    optimizer: { name: 'adam', lr: 0.01 },
    batch_size: 64,
    total_updates: 40,
    eval_every: 40,
    checkpoint_every: 1000,
    min_workers: HONEST + ATTACKERS,
    slice_balance: 'equal',
    max_update_norm: MAX_UPDATE_NORM,
    step_timeout: '60s',
    ...(aggregator ? { ddp: { aggregator } } : {}),
  };
  const session = await t.coordinator.startRun(validateRunConfig(cfg));
  const outcome = await session.done;
  expect(outcome.status, name).toBe('finished');
  const excluded = await t.coordinator.store.getMetricHistory(session.runId, 'aggregator_excluded');
  return { accuracy: outcome.evalAccuracy ?? NaN, excluded: excluded.map((p) => p.value) };
}

describe('robust aggregation under a sign-flip attack just under max_update_norm (MNIST, 5 honest + 2 attackers)', () => {
  it('the mean falls to chance; multi-Krum stays within 2 points of the clean run, the median within 5', async () => {
    const t0 = performance.now();
    const clean = await finalAccuracy('clean-mean', undefined, false);
    const attackedMean = await finalAccuracy('attacked-mean', undefined, true);
    const robust = {
      median: await finalAccuracy('attacked-median', { name: 'median' }, true),
      multi_krum: await finalAccuracy('attacked-multi-krum', { name: 'multi_krum', f: 2 }, true),
    };
    console.log(JSON.stringify({ clean, attackedMean, robust, seconds: (performance.now() - t0) / 1000 }));
    expect(clean.accuracy).toBeGreaterThan(0.7);
    expect(attackedMean.accuracy).toBeLessThan(clean.accuracy - 0.2);
    expect(robust.multi_krum.accuracy).toBeGreaterThanOrEqual(clean.accuracy - 0.02);
    expect(robust.median.accuracy).toBeGreaterThanOrEqual(clean.accuracy - 0.05);
    // The rule metrics say what the aggregator did: multi-Krum keeps n - f = 5 of 7 every update, the median excludes nobody, the mean logs none.
    expect(robust.multi_krum.excluded).toEqual(Array.from({ length: 40 }, () => 2));
    expect(robust.median.excluded).toEqual(Array.from({ length: 40 }, () => 0));
    expect(attackedMean.excluded).toEqual([]);
  });
});
