/**
 * A toy training mode, written the way a real one is added: this one file (its machine, its
 * server update rule, its worker task) plus one line in a mode registry and one in a worker task
 * registry. Each worker takes one plain SGD step on its slice from the coordinator's parameters
 * and sends back the parameters it reached; the coordinator sets the parameters to their mean,
 * weighted by samples. With one local step of plain SGD that is exactly DDP with SGD at the same
 * learning rate, which is what the test checks against tfjs's own optimizer.
 */
import { z } from 'zod';
import { reduceWeightedMean } from '../../../core/aggregate/reduce-weighted-mean.ts';
import { defineMode } from '../../../core/run/training-mode.ts';
import { ddpMode } from '../../../core/run/ddp/ddp-mode.ts';
import { datasetBatch } from '../../../core/data/dataset.ts';
import type { WorkerTask } from '../../../core/worker/tasks/index.ts';
import * as tf from '@tensorflow/tfjs-core';

const LocalSgdOptionsSchema = z.strictObject({ lr: z.number().positive() });

/** The worker task: params - lr * gradient of the slice's mean loss. */
export const localSgdTask: WorkerTask<z.infer<typeof LocalSgdOptionsSchema>> = {
  options: LocalSgdOptionsSchema,
  async run(ctx) {
    const { xs, ys } = datasetBatch(ctx.train, ctx.indices);
    try {
      const { grads, loss, accuracy } = await ctx.computer.computeGradientsAsync(xs, ys);
      const params = ctx.computer.getParams();
      for (let i = 0; i < params.length; i++) params[i] = params[i]! - ctx.options.lr * grads[i]!;
      return { values: params, loss, accuracy };
    } finally {
      tf.dispose([xs, ys]);
    }
  },
};

/** `param-average`: rounds like ddp's (the same machine), results are parameters, the rule averages them. */
export const paramAverageMode = defineMode({
  name: 'param-average',
  summary: 'toy: one local SGD step per worker, parameters averaged by sample count',
  optionsSchema: z.strictObject({ local_lr: z.number().positive().default(0.1) }),
  createMachine: (setup, snapshot) => ddpMode.createMachine({ ...setup, options: {} }, snapshot),
  createUpdateRule: () => {
    let rounds = 0;
    return {
      apply(params, results) {
        const mean = reduceWeightedMean(results.map((r) => ({ values: r.values, weight: r.sampleCount })));
        params.set(mean);
        rounds += 1;
        return { lr: 0, metrics: { averaged_workers: results.length } };
      },
      state: () => ({ name: 'param-average', step: rounds, slots: {} }),
      load: (state) => {
        rounds = state.step;
      },
    };
  },
  workerTask: ({ options }) => ({ kind: 'local-sgd', options: { lr: options.local_lr } }),
});
