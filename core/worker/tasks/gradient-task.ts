import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { datasetBatch } from '../../data/dataset.ts';
import type { WorkerTask } from './worker-task.ts';

/** Options of the gradient task: none (unknown keys are refused, so a typo is not silently ignored). */
export const GradientTaskOptionsSchema = z.strictObject({});

/**
 * The DDP task: the gradient of the mean loss over the slice at the coordinator's parameters,
 * read back asynchronously (the only correct read-back on WebGPU in a browser; same numbers elsewhere).
 */
export const gradientTask: WorkerTask<z.infer<typeof GradientTaskOptionsSchema>> = {
  options: GradientTaskOptionsSchema,
  async run(ctx) {
    const { xs, ys } = datasetBatch(ctx.train, ctx.indices);
    try {
      const { grads, loss, accuracy } = await ctx.computer.computeGradientsAsync(xs, ys);
      return { values: grads, loss, accuracy };
    } finally {
      tf.dispose([xs, ys]);
    }
  },
};
