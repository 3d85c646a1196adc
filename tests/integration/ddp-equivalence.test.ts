import { afterEach, describe, expect, it } from 'vitest';
import { validateRunConfig, type RunConfigInput } from '../../core/config/run-config.ts';
import { readCheckpointFile } from '../../coordinator/run/checkpoint-file.ts';
import { startTestCoordinator, syntheticConfig, type TestCoordinator } from './support/harness.ts';
import { maxRelativeDifference, trainSingleProcess } from './support/reference-training.ts';

let t: TestCoordinator | null = null;
afterEach(async () => {
  await t?.cleanup();
  t = null;
});

async function trainDistributed(input: RunConfigInput, workers: number): Promise<{ params: Float32Array; losses: number[]; runId: string }> {
  t = await startTestCoordinator();
  await t.joinWorkers(workers);
  const session = await t.coordinator.startRun(validateRunConfig({ ...input, min_workers: workers }));
  const outcome = await session.done;
  expect(outcome.status).toBe('finished');
  const ckpt = await t.coordinator.store.findCheckpoint(session.runId, 'latest');
  expect(ckpt?.step).toBe(input.total_updates);
  const content = await readCheckpointFile(ckpt!.path, ckpt!.sha256);
  const losses = (await t.coordinator.store.getMetricHistory(session.runId, 'train_loss')).map((p) => p.value);
  return { params: content.params, losses, runId: session.runId };
}

/**
 * The oracle (support/reference-training.ts) is independent of the code under test: tfjs's own
 * optimizers (or a float64 AdamW formula) on tfjs's gradient of the mean loss over the whole
 * global batch, with clipping and the LR schedule written in the test support. Relative
 * difference per parameter, floor 1e-3; float32 summation order across 3 slices vs one batch
 * puts the measured values at 2e-6 to 1.1e-5 (Adam, Nesterov, AdamW; varies from run to run).
 */
const TOLERANCE = 1e-4;

/** The final-parameter difference, logged so a drift towards the tolerance is visible before it fails. */
function compareParams(label: string, dist: Float32Array, ref: Float32Array): number {
  const diff = maxRelativeDifference(dist, ref);
  console.log(`ddp-equivalence ${label}: max relative difference to the single-process reference = ${diff.toExponential(2)}`);
  return diff;
}

describe('DDP equivalence: coordinator + 3 worker processes == single-process training', () => {
  it(`MLP with Adam, gradient clipping and a warmup schedule (max relative difference <= ${TOLERANCE.toExponential()} on cpu)`, async () => {
    const cfg = syntheticConfig({
      total_updates: 12,
      max_grad_norm: 1.0,
      lr_schedule: { type: 'chain', stages: [{ type: 'linear', start_factor: 0.1, end_factor: 1, updates: 4 }, { type: 'cosine', end_factor: 0.1 }] },
    });
    const dist = await trainDistributed(cfg, 3);
    const ref = await trainSingleProcess(cfg, 3, 12);
    expect(compareParams('mlp adam', dist.params, ref.params)).toBeLessThanOrEqual(TOLERANCE);
    expect(dist.losses).toHaveLength(12);
    dist.losses.forEach((l, i) => expect(l).toBeCloseTo(ref.losses[i] ?? NaN, 4));
    // Training really moved the parameters (the comparison is not between two initial states).
    const init = await trainSingleProcess(cfg, 3, 0);
    expect(maxRelativeDifference(ref.params, init.params)).toBeGreaterThan(1e-2);
  });

  it('small CNN with SGD momentum on image-shaped data', async () => {
    const cfg = syntheticConfig({
      model: { type: 'cnn', conv: [{ filters: 4, kernel_size: 3 }], pool: 2, dense: [] },
      dataset: { name: 'synthetic', shape: [8, 8, 1], classes: 3, train_size: 120, test_size: 30, seed: 3 },
      optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true },
      batch_size: 6,
      total_updates: 8,
    });
    const dist = await trainDistributed(cfg, 3);
    const ref = await trainSingleProcess(cfg, 3, 8);
    expect(compareParams('cnn nesterov', dist.params, ref.params)).toBeLessThanOrEqual(TOLERANCE);
  });

  it('MLP with AdamW (decoupled weight decay), a step schedule and clipping, against the float64 AdamW formula', async () => {
    const cfg = syntheticConfig({
      optimizer: { name: 'adamw', lr: 0.02, weight_decay: 0.1 },
      lr_schedule: { type: 'step', step_size: 4, gamma: 0.5 },
      max_grad_norm: 0.5,
      total_updates: 12,
    });
    const dist = await trainDistributed(cfg, 3);
    const ref = await trainSingleProcess(cfg, 3, 12);
    expect(compareParams('mlp adamw', dist.params, ref.params)).toBeLessThanOrEqual(TOLERANCE);
    const init = await trainSingleProcess(cfg, 3, 0);
    expect(maxRelativeDifference(ref.params, init.params)).toBeGreaterThan(1e-2);
  });
});
