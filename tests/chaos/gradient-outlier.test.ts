import { afterEach, describe, expect, it } from 'vitest';
import { validateRunConfig, type RunConfigInput } from '../../core/config/run-config.ts';
import { startTestCoordinator, syntheticConfig, waitForWorkers, type TestCoordinator } from '../integration/support/harness.ts';
import { joinTestWorker, type TestWorker } from '../integration/support/test-worker.ts';
import { joinZeroGradientClient, type ZeroGradientClient } from '../integration/support/zero-gradient-client.ts';

let t: TestCoordinator | null = null;
let rogue: ZeroGradientClient | null = null;
afterEach(async () => {
  rogue?.close();
  rogue = null;
  await t?.cleanup();
  t = null;
});

describe('a worker whose gradients disagree with the fleet', () => {
  it('is flagged (Event + live fleet) while its valid-looking zero gradients are still accepted; honest workers are not', async () => {
    t = await startTestCoordinator();
    await t.joinWorkers(3);
    rogue = await joinZeroGradientClient(t.coordinator.url, t.token);
    await waitForWorkers(t.coordinator, 4);

    const session = await t.coordinator.startRun(validateRunConfig(syntheticConfig({ batch_size: 32, total_updates: 10, min_workers: 4, eval_every: 100, slice_balance: 'equal', optimizer: { name: 'sgd', lr: 0.05 }, dataset: { name: 'synthetic', shape: [12], classes: 3, train_size: 1200, test_size: 60, seed: 5, noise: 1.0 } })));
    const outcome = await session.done;
    expect(outcome.status).toBe('finished');

    const events = await t.coordinator.store.listEvents(session.runId);
    const outliers = events.filter((e) => e.kind === 'gradient_outlier');
    expect(outliers.map((e) => e.workerId)).toEqual([rogue.workerId]);
    expect(JSON.stringify(outliers[0]?.detail)).toMatch(/disagree with the rest of the fleet/);
    const live = (await (await fetch(`${t.coordinator.url}/api/v1/fleet`)).json()) as { workers: { id: string; gradientOutlier: boolean }[] };
    const flagged = live.workers.filter((w) => w.gradientOutlier).map((w) => w.id);
    expect(flagged).toEqual([rogue.workerId]);
    expect(live.workers).toHaveLength(4);
  });
});

/** The attacker: the honest gradient, sign-flipped and scaled to 0.99 x the old absolute default of max_update_norm (1e6). */
function signFlipTo(norm: number) {
  return (values: Float32Array): Float32Array => {
    let sum = 0;
    for (const v of values) sum += v * v;
    const scale = -norm / Math.sqrt(sum);
    return values.map((v) => v * scale);
  };
}

const OLD_DEFAULT = 1e6;

describe('a sign-flipped gradient scaled to 0.99 x the old default max_update_norm', () => {
  const workers: TestWorker[] = [];
  afterEach(async () => {
    for (const w of workers.splice(0)) await w.close();
  });

  /** Trains with two honest in-process workers and the attacker; the run's accuracy, the attacker's commits and the run's Events. */
  async function attackedRun(maxUpdateNorm: RunConfigInput['max_update_norm']) {
    t = await startTestCoordinator();
    for (let i = 0; i < 2; i++) workers.push(await joinTestWorker({ url: t.coordinator.url, token: t.token, name: `honest-${i}` }));
    const attacker = await joinTestWorker({ url: t.coordinator.url, token: t.token, name: 'sign-flip', transformResult: signFlipTo(0.99 * OLD_DEFAULT) });
    workers.push(attacker);
    await waitForWorkers(t.coordinator, 3);
    const config = validateRunConfig(
      syntheticConfig({
        batch_size: 16,
        total_updates: 30,
        min_workers: 3,
        eval_every: 30,
        checkpoint_every: 1000,
        optimizer: { name: 'sgd', lr: 0.1 },
        max_grad_norm: 5,
        ...(maxUpdateNorm === undefined ? {} : { max_update_norm: maxUpdateNorm }),
        dataset: { name: 'synthetic', shape: [12], classes: 3, train_size: 480, test_size: 120, seed: 5 },
      }),
    );
    const session = await t.coordinator.startRun(config);
    const outcome = await session.done;
    const events = await t.coordinator.store.listEvents(session.runId);
    const acks = attacker.commits.map((c) => (c.ack.ok ? 'accepted' : c.ack.error.code));
    const result = { outcome, events, acks, attackerId: attacker.workerId };
    for (const w of workers.splice(0)) await w.close();
    await t.cleanup();
    t = null;
    return result;
  }

  it('is rejected after the warm-up by the fleet-relative default bound and flagged as a norm outlier; the old absolute bound let it ruin the model', async () => {
    const old = await attackedRun(OLD_DEFAULT);
    const auto = await attackedRun(undefined);
    console.log(
      `sign flip at 0.99e6: absolute bound 1e6 -> accuracy ${old.outcome.evalAccuracy}, accepted ${old.acks.filter((a) => a === 'accepted').length}/${old.acks.length}; ` +
        `auto -> accuracy ${auto.outcome.evalAccuracy}, accepted ${auto.acks.filter((a) => a === 'accepted').length}/${auto.acks.length}`,
    );
    for (const r of [old, auto]) {
      expect(r.outcome.status).toBe('finished');
      // The disagreement flag now sees the norm (it fires on the attacker's first accepted result).
      const flags = r.events.filter((e) => e.kind === 'gradient_outlier');
      expect(flags.map((e) => e.workerId)).toEqual([r.attackerId]);
      expect(JSON.stringify(flags[0]?.detail)).toMatch(/gradient norms disagree with the rest of the fleet/);
    }
    // Old absolute bound: every attack accepted, the model is ruined.
    expect(old.acks.every((a) => a === 'accepted')).toBe(true);
    // Fleet-relative default: accepted only within the warm-up (the first 3 accepted results: round 0), rejected after.
    expect(auto.acks.filter((a) => a === 'accepted').length).toBeLessThanOrEqual(1);
    expect(auto.acks.slice(1).every((a) => a === 'NORM_TOO_LARGE')).toBe(true);
    expect(auto.acks.length).toBeGreaterThanOrEqual(3);
    // Each refused result halves its measured rate: it ends the run as a spare, not holding slices.
    expect(auto.events.some((e) => e.kind === 'worker_spare' && e.workerId === auto.attackerId)).toBe(true);
    expect(auto.outcome.evalAccuracy!).toBeGreaterThan(old.outcome.evalAccuracy! + 0.2);
  });
});
