import { describe, expect, it } from 'vitest';
import { validateRunConfig } from '../../../core/config/run-config.ts';
import { readCheckpointFile } from '../../../coordinator/run/checkpoint-file.ts';
import { syntheticConfig, type TestCoordinator } from '../support/harness.ts';
import { fleetFixture, type TestFleet } from '../support/fleet-fixture.ts';
import { maxRelativeDifference, trainSingleProcess } from '../support/reference-training.ts';

const fleet = fleetFixture();

function coordinatorWithWorkers(n: number, dataDir?: string): Promise<TestFleet> {
  return fleet.start(Array.from({ length: n }, (_, i) => ({ name: `diloco-${i}` })), { dataDir });
}

async function finalParams(t: TestCoordinator, runId: string) {
  const ckpt = await t.coordinator.store.findCheckpoint(runId, 'latest');
  return readCheckpointFile(ckpt!.path, ckpt!.sha256);
}

describe('diloco over real sockets', () => {
  it('with H = 1, inner SGD and outer SGD lr 1 without momentum it is plain SGD on the same global batches (tfjs as the oracle)', async () => {
    const WORKERS = 3;
    const UPDATES = 8;
    const common = syntheticConfig({ total_updates: UPDATES, optimizer: { name: 'sgd', lr: 0.2 }, min_workers: WORKERS });
    const { t } = await coordinatorWithWorkers(WORKERS);
    const config = validateRunConfig({ ...common, mode: 'diloco', diloco: { inner_steps: 1, outer_lr: 1, outer_momentum: 0 } });
    const session = await t.coordinator.startRun(config);
    expect(await session.done).toMatchObject({ status: 'finished', step: UPDATES });
    expect((await t.coordinator.store.getRun(session.runId))?.mode).toBe('diloco');
    const content = await finalParams(t, session.runId);
    expect(content.mode).toBe('diloco');
    const ref = await trainSingleProcess(common, WORKERS, UPDATES);
    const init = await trainSingleProcess(common, WORKERS, 0);
    expect(maxRelativeDifference(content.params, ref.params)).toBeLessThanOrEqual(1e-4);
    expect(maxRelativeDifference(content.params, init.params)).toBeGreaterThan(1e-2);
  });

  it('H = 5 with inner AdamW and the default outer Nesterov SGD trains an MNIST MLP on 2 workers to at least 85% test accuracy', async () => {
    const { t, workers } = await coordinatorWithWorkers(2);
    const rounds = 40;
    const config = validateRunConfig({
      name: 'it-diloco-mnist',
      experiment: 'integration',
      seed: 3,
      model: { type: 'mlp', hidden: [32] },
      dataset: { name: 'mnist', train_size: 4000, test_size: 1000 },
      optimizer: { name: 'adamw', lr: 0.001, weight_decay: 0 },
      batch_size: 32,
      total_updates: rounds,
      eval_every: 20,
      checkpoint_every: 100,
      min_workers: 2,
      slice_balance: 'equal',
      mode: 'diloco',
      diloco: { inner_steps: 5 },
    });
    const session = await t.coordinator.startRun(config);
    const outcome = await session.done;
    expect(outcome, outcome.reason).toMatchObject({ status: 'finished', step: rounds });
    expect(outcome.evalAccuracy).toBeGreaterThanOrEqual(0.85);
    // Each round every worker trained 5 × 32 samples and sent one delta; the last round of an epoch
    // (4,000 is not a multiple of 320) trains what is left of it.
    const expected: number[] = [];
    for (let left = 4000; expected.length < rounds; ) {
      const take = Math.min(2 * 5 * 32, left);
      expected.push(take);
      left = left === take ? 4000 : left - take;
    }
    const samples = await t.coordinator.store.getMetricHistory(session.runId, 'batch_samples');
    expect(samples.map((p) => p.value)).toEqual(expected);
    for (const w of workers) expect(w.commits.filter((c) => c.ack.ok)).toHaveLength(rounds);
    const content = await finalParams(t, session.runId);
    expect(content.optimizer).toMatchObject({ name: 'sgd', step: rounds });
    expect(Object.keys(content.optimizer.slots)).toEqual(['momentum']);
  });

  it('a stopped and resumed run continues exactly: the outer momentum comes back from the checkpoint', async () => {
    // Inner SGD without momentum keeps no state on the workers, so the resumed workers compute
    // what the first ones would have: the outer Nesterov momentum is the only state carried over.
    const cfg = validateRunConfig({
      ...syntheticConfig({ total_updates: 12, checkpoint_every: 3, eval_every: 6, min_workers: 2, slice_balance: 'equal', optimizer: { name: 'sgd', lr: 0.1 } }),
      mode: 'diloco',
      diloco: { inner_steps: 3 },
    });

    const { t: a } = await coordinatorWithWorkers(2);
    const runA = await a.coordinator.startRun(cfg);
    expect((await runA.done).status).toBe('finished');
    const lossA = (await a.coordinator.store.getMetricHistory(runA.runId, 'train_loss')).map((p) => p.value);
    const paramsA = (await finalParams(a, runA.runId)).params;

    const { t: b } = await coordinatorWithWorkers(2);
    const runB = await b.coordinator.startRun(cfg);
    await new Promise<void>((resolve) => {
      b.coordinator.events.on('update', (u) => {
        if (u.step === 5) resolve();
      });
    });
    await b.stop();
    await fleet.closeWorkers();

    const { t: c } = await coordinatorWithWorkers(2, b.dataDir);
    const stoppedAt = await c.coordinator.store.findCheckpoint(runB.runId, 'latest');
    expect(stoppedAt!.step).toBeGreaterThanOrEqual(6);
    expect(stoppedAt!.step).toBeLessThan(12);
    const saved = await readCheckpointFile(stoppedAt!.path, stoppedAt!.sha256);
    expect(saved.optimizer).toMatchObject({ name: 'sgd', step: stoppedAt!.step });
    expect(saved.optimizer.slots.momentum!.some((v) => v !== 0)).toBe(true);
    const resumed = await c.coordinator.resumeRun(runB.runId);
    expect((await resumed.done).status).toBe('finished');
    const history = await c.coordinator.store.getMetricHistory(runB.runId, 'train_loss');
    expect(history.map((p) => p.step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    history.forEach((p, i) => expect(Math.abs(p.value - lossA[i]!), `round ${i + 1}`).toBeLessThanOrEqual(1e-5));
    expect(maxRelativeDifference((await finalParams(c, runB.runId)).params, paramsA)).toBeLessThanOrEqual(1e-5);
  });
});
