import { describe, expect, it } from 'vitest';
import type { AggregatorSpecInput } from '../../../core/aggregate/robust/index.ts';
import { validateRunConfig } from '../../../core/config/run-config.ts';
import { readCheckpointFile } from '../../../coordinator/run/checkpoint-file.ts';
import { fleetFixture } from '../support/fleet-fixture.ts';

const fleet = fleetFixture();

describe('fedavg over real sockets', () => {
  it('samples 2 of 3 clients per round (recorded), each trains 5 local SGD steps, FedAvgM reaches 85% on MNIST', async () => {
    const ROUNDS = 30;
    const { t, workers } = await fleet.start(Array.from({ length: 3 }, (_, i) => ({ name: `client-${i}` })));
    const config = validateRunConfig({
      name: 'it-fedavg-mnist',
      experiment: 'integration',
      seed: 4,
      model: { type: 'mlp', hidden: [32] },
      dataset: { name: 'mnist', train_size: 4000, test_size: 1000 },
      optimizer: { name: 'sgd', lr: 0.1 },
      batch_size: 32,
      total_updates: ROUNDS,
      eval_every: 15,
      checkpoint_every: 100,
      min_workers: 3,
      mode: 'fedavg',
      fedavg: { fraction: 0.6, min_clients: 2, local_steps: 5, server_optimizer: { name: 'fedavgm', momentum: 0.5 } },
    });
    const session = await t.coordinator.startRun(config);
    const outcome = await session.done;
    expect(outcome, outcome.reason).toMatchObject({ status: 'finished', step: ROUNDS });
    expect(outcome.evalAccuracy).toBeGreaterThanOrEqual(0.85);

    const events = await t.coordinator.store.listEvents(session.runId);
    const sampled = events.filter((e) => e.kind === 'clients_sampled').map((e) => e.detail as { step: number; available: number; sampled: string[] });
    expect(sampled.map((s) => s.step)).toEqual(Array.from({ length: ROUNDS }, (_, i) => i));
    for (const s of sampled) {
      expect(s.available).toBe(3);
      expect(s.sampled).toHaveLength(2); // ceil(0.6 × 3)
    }
    // Every client was sampled at some point, and committed exactly once per round it was sampled in.
    const ids = new Set(workers.map((w) => w.workerId));
    for (const w of workers) {
      const times = sampled.filter((s) => s.sampled.includes(w.workerId)).length;
      expect(times).toBeGreaterThan(0);
      expect(w.commits.filter((c) => c.ack.ok)).toHaveLength(times);
    }
    expect(sampled.every((s) => s.sampled.every((id) => ids.has(id)))).toBe(true);
    const reported = await t.coordinator.store.getMetricHistory(session.runId, 'clients_reported');
    expect(reported.map((p) => p.value)).toEqual(new Array(ROUNDS).fill(2));
    // 2 clients × 5 steps × 32 samples per round; the last round of an epoch trains what is left of it.
    const expected: number[] = [];
    for (let left = 4000; expected.length < ROUNDS; ) {
      const take = Math.min(2 * 5 * 32, left);
      expected.push(take);
      left = left === take ? 4000 : left - take;
    }
    const samples = await t.coordinator.store.getMetricHistory(session.runId, 'batch_samples');
    expect(samples.map((p) => p.value)).toEqual(expected);

    const ckpt = await t.coordinator.store.findCheckpoint(session.runId, 'latest');
    const content = await readCheckpointFile(ckpt!.path, ckpt!.sha256);
    expect(content.mode).toBe('fedavg');
    expect(content.optimizer).toMatchObject({ name: 'sgd', step: ROUNDS });
    expect(Object.keys(content.optimizer.slots)).toEqual(['momentum']);
  });

  it('with `aggregator: median`, 2 honest clients and 1 sending its delta sign-flipped and scaled to just under max_update_norm train about as well as the clean run; the mean does not', async () => {
    const ROUNDS = 40;
    let attacking = false;
    const MAX_UPDATE_NORM = 20;
    // The hostile client: its real delta sign-flipped and scaled to 0.99 x max_update_norm, so that it passes validation.
    const hostile = (values: Float32Array) => {
      if (!attacking) return values;
      const norm = Math.sqrt(values.reduce((s, v) => s + v * v, 0));
      return values.map((v) => (v * -0.99 * MAX_UPDATE_NORM) / norm);
    };
    const { t } = await fleet.start([{ name: 'honest-0' }, { name: 'honest-1' }, { name: 'hostile', transformResult: hostile }]);
    const run = async (name: string, aggregator: AggregatorSpecInput | undefined, attack: boolean) => {
      attacking = attack;
      const config = validateRunConfig({
        name,
        experiment: 'integration',
        seed: 5,
        model: { type: 'mlp', hidden: [32] },
        dataset: { name: 'mnist', train_size: 2000, test_size: 1000 },
        optimizer: { name: 'sgd', lr: 0.1 },
        batch_size: 32,
        total_updates: ROUNDS,
        eval_every: ROUNDS,
        checkpoint_every: 100,
        min_workers: 3,
        max_failed_rounds: 2,
        max_update_norm: MAX_UPDATE_NORM,
        mode: 'fedavg',
        fedavg: { min_clients: 3, local_steps: 5, ...(aggregator ? { aggregator } : {}) },
      });
      const session = await t.coordinator.startRun(config);
      const outcome = await session.done;
      const excluded = await t.coordinator.store.getMetricHistory(session.runId, 'aggregator_excluded');
      return { outcome, accuracy: outcome.evalAccuracy ?? 0, excluded: excluded.map((p) => p.value) };
    };
    const clean = await run('it-fedavg-clean', undefined, false);
    const attacked = await run('it-fedavg-median-attacked', { name: 'median' }, true);
    const attackedMean = await run('it-fedavg-mean-attacked', undefined, true);
    expect(clean.outcome, clean.outcome.reason).toMatchObject({ status: 'finished', step: ROUNDS });
    expect(attacked.outcome, attacked.outcome.reason).toMatchObject({ status: 'finished', step: ROUNDS });
    // Measured: clean 85.6%, attacked median 82.5% (per coordinate the median of 3 is the honest value on the attacker's side), attacked mean 10%.
    expect(clean.accuracy).toBeGreaterThan(0.8);
    expect(attacked.accuracy).toBeGreaterThanOrEqual(clean.accuracy - 0.05);
    // The attacked mean falls to chance (a run that fails instead counts as accuracy 0).
    expect(attackedMean.accuracy).toBeLessThan(clean.accuracy - 0.2);
    // The rule logs the aggregator's metrics once per round (the median excludes nobody); the mean logs none.
    expect(attacked.excluded).toEqual(new Array(ROUNDS).fill(0));
    expect(clean.excluded).toEqual([]);
  });
});
