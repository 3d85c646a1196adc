import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { validateRunConfig, type RunConfigInput } from '../../../core/config/run-config.ts';
import { loadDataset } from '../../../core/data/dataset-spec.ts';
import { EpochSampler } from '../../../core/data/epoch-sampler.ts';
import { InProcessTrainer } from '../../../bench/support/in-process-trainer.ts';
import { trainSingleProcess } from '../../integration/support/reference-training.ts';

const input: RunConfigInput = {
  name: 'bench-unit',
  seed: 7,
  model: { type: 'mlp', hidden: [8] },
  dataset: { name: 'synthetic', shape: [6], classes: 3, train_size: 96, test_size: 30, seed: 2 },
  optimizer: { name: 'adam', lr: 0.02 },
  lr_schedule: { type: 'cosine', end_factor: 0.1 },
  max_grad_norm: 1,
  batch_size: 16,
  total_updates: 10,
};

let trainer: InProcessTrainer | null = null;
afterEach(() => {
  trainer?.dispose();
  trainer = null;
});

describe('InProcessTrainer', () => {
  it('reproduces the reference single-process training (same losses) across separately timed blocks', async () => {
    await tf.setBackend('cpu');
    const config = validateRunConfig(input);
    const { train } = await loadDataset(config.dataset);
    const sampler = new EpochSampler({ seed: config.seed, datasetSize: train.size });
    const batches = Array.from({ length: 10 }, () => sampler.nextBatch(16).indices);
    trainer = new InProcessTrainer(config, train);
    const steps = batches.slice(0, 4).map((b) => trainer!.trainStep(b));
    steps.push(...batches.slice(4).map((b) => trainer!.trainStep(b)));
    expect(steps.map((s) => s.step)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(steps.every((s) => s.ms >= 0)).toBe(true);
    const ref = await trainSingleProcess(input, 1, 10);
    steps.forEach((s, i) => expect(s.loss).toBeCloseTo(ref.losses[i] ?? Number.NaN, 6));
    expect(steps[9]!.loss).toBeLessThan(steps[0]!.loss);
  });

  it('keeps the tensor count constant across steps and evaluations', async () => {
    await tf.setBackend('cpu');
    const config = validateRunConfig(input);
    const { train, test } = await loadDataset(config.dataset);
    trainer = new InProcessTrainer(config, train);
    trainer.trainStep([0, 1, 2, 3]);
    const before = tf.memory().numTensors;
    trainer.trainStep([4, 5, 6, 7]);
    const evaluation = trainer.evaluate(test, 7);
    expect(tf.memory().numTensors).toBe(before);
    expect(evaluation.accuracy).toBeGreaterThanOrEqual(0);
    expect(evaluation.accuracy).toBeLessThanOrEqual(1);
    expect(Number.isFinite(evaluation.loss)).toBe(true);
  });
});
