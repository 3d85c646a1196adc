import * as tf from '@tensorflow/tfjs-core';
import { datasetBatch, type Dataset } from '../../data/dataset.ts';
import type { GradientComputer } from '../../models/gradient-computer.ts';
import type { FlatOptimizer } from '../../optim/flat-optimizer.ts';

/** What {@link trainLocally} did: the parameter delta (start − end) and the sample-weighted mean loss and accuracy of its steps. */
export interface LocalTrainingResult {
  /** `start − end`, one float32 per parameter: the direction a coordinator's outer step follows like a gradient. */
  delta: Float32Array;
  loss: number;
  accuracy: number;
  /** Optimizer steps taken. */
  steps: number;
}

/** How {@link trainLocally} trains. */
export interface LocalTrainingPlan {
  computer: GradientComputer;
  train: Dataset;
  /** The mini-batches, in order: one optimizer step each (empty batches are skipped). */
  batches: readonly ArrayLike<number>[];
  optimizer: FlatOptimizer;
  /** The learning rate of the `k`-th step of this call (0-based). */
  lrOf(k: number): number;
  /** FedProx's proximal weight μ: adds `μ (w − w_start)` to every gradient (0 or absent: none). */
  proximalMu?: number;
}

/**
 * Local training on a worker: from the computer's current parameters, one `optimizer` step per
 * mini-batch (the gradient of the batch's mean loss, read back asynchronously as the gradient
 * task does), the parameters kept in a flat float32 vector and set into the model before each
 * gradient. Leaves the computer at the end parameters; frees every tensor it makes.
 * @example const { delta } = await trainLocally({ computer, train, batches, optimizer, lrOf: () => 0.01 });
 */
export async function trainLocally(plan: LocalTrainingPlan): Promise<LocalTrainingResult> {
  const { computer, train, optimizer } = plan;
  const start = computer.getParams();
  const params = start.slice();
  const mu = plan.proximalMu ?? 0;
  let lossSum = 0;
  let accSum = 0;
  let samples = 0;
  let steps = 0;
  for (const batch of plan.batches) {
    if (batch.length === 0) continue;
    if (steps > 0) computer.setParams(params);
    const { xs, ys } = datasetBatch(train, batch);
    let grads: Float32Array;
    try {
      const r = await computer.computeGradientsAsync(xs, ys);
      grads = r.grads;
      lossSum += r.loss * batch.length;
      accSum += r.accuracy * batch.length;
    } finally {
      tf.dispose([xs, ys]);
    }
    if (mu > 0) {
      for (let i = 0; i < grads.length; i++) grads[i] = grads[i]! + mu * (params[i]! - start[i]!);
    }
    optimizer.step(params, grads, plan.lrOf(steps));
    samples += batch.length;
    steps += 1;
  }
  computer.setParams(params);
  const delta = start;
  for (let i = 0; i < delta.length; i++) delta[i] = start[i]! - params[i]!;
  return { delta, loss: samples > 0 ? lossSum / samples : Number.NaN, accuracy: samples > 0 ? accSum / samples : 0, steps };
}
