import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { validateRunConfig, type RunConfigInput } from '../../../core/config/run-config.ts';
import { loadDataset } from '../../../core/data/dataset-spec.ts';
import { datasetBatch } from '../../../core/data/dataset.ts';
import { EpochSampler } from '../../../core/data/epoch-sampler.ts';
import { GradientComputer } from '../../../core/models/gradient-computer.ts';
import { createFlatOptimizer } from '../../../core/optim/flat-optimizer.ts';
import { clipByGlobalNorm } from '../../../core/optim/clip.ts';
import { lrAt } from '../../../core/optim/lr-schedule.ts';

/**
 * Single-process training on the same global batches the coordinator draws for a fleet of
 * `workers` workers: the ground truth distributed training must reproduce.
 */
export async function trainSingleProcess(
  input: RunConfigInput,
  workers: number,
  updates: number,
): Promise<{ params: Float32Array; losses: number[] }> {
  await tf.setBackend('cpu');
  const config = validateRunConfig(input);
  const { train } = await loadDataset(config.dataset);
  const gc = GradientComputer.create(config.model, { inputShape: train.inputShape, numClasses: train.numClasses, seed: config.seed });
  const params = gc.getParams();
  const opt = createFlatOptimizer(config.optimizer, params.length);
  const sampler = new EpochSampler({ seed: config.seed, datasetSize: train.size });
  const losses: number[] = [];
  try {
    for (let step = 0; step < updates; step++) {
      const { indices } = sampler.nextBatch(config.batch_size * workers);
      gc.setParams(params);
      const { xs, ys } = datasetBatch(train, indices);
      const { grads, loss } = gc.computeGradients(xs, ys);
      tf.dispose([xs, ys]);
      if (config.max_grad_norm !== null) clipByGlobalNorm(grads, config.max_grad_norm);
      opt.step(params, grads, lrAt(config.lr_schedule, config.optimizer.lr, step, config.total_updates));
      losses.push(loss);
    }
  } finally {
    gc.dispose();
  }
  return { params, losses };
}

/** max_i |a_i - b_i| / max(|b_i|, floor): relative difference with a floor for near-zero values. */
export function maxRelativeDifference(a: Float32Array, b: Float32Array, floor = 1e-3): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] ?? 0) - (b[i] ?? 0)) / Math.max(Math.abs(b[i] ?? 0), floor);
    if (d > worst) worst = d;
  }
  return worst;
}
