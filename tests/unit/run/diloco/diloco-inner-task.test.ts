import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { datasetBatch } from '../../../../core/data/dataset.ts';
import { makeSyntheticDataset } from '../../../../core/data/synthetic.ts';
import { GradientComputer } from '../../../../core/models/gradient-computer.ts';
import { parseModelSpec, softmaxCrossEntropyLoss } from '../../../../core/models/model-spec.ts';
import { parseOptimizerSpec } from '../../../../core/optim/optimizer-spec.ts';
import { dilocoInnerOptimizerOf, dilocoInnerTask, DilocoInnerTaskOptionsSchema, type DilocoInnerTaskOptions } from '../../../../core/worker/tasks/diloco-inner-task.ts';
import { WORKER_TASKS } from '../../../../core/worker/tasks/index.ts';

const model = parseModelSpec({ type: 'mlp', hidden: [8] });
const { train } = makeSyntheticDataset({ shape: [6], classes: 3, trainSize: 64, testSize: 4, seed: 3, noise: 0.3 });
const info = { inputShape: [6], numClasses: 3, seed: 2 };
const H = 3;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function options(over: Partial<DilocoInnerTaskOptions> = {}): DilocoInnerTaskOptions {
  return DilocoInnerTaskOptionsSchema.parse({ inner_steps: H, optimizer: { name: 'adam', lr: 0.05 }, total_inner_steps: 100, ...over });
}

async function runRound(computer: GradientComputer, step: number, indices: number[], opts: DilocoInnerTaskOptions) {
  return dilocoInnerTask.run({ runId: 'r', step, epoch: 0, paramsVersion: step, computer, train, indices: Uint32Array.from(indices), options: opts });
}

/** Oracle: tfjs's own Adam minimising the mean loss of each mini-batch in turn, one optimizer across rounds. */
function tfjsAdamSteps(ref: GradientComputer, opt: tf.Optimizer, batches: number[][]): void {
  const variables = ref.model.trainableWeights.map((w) => w.read() as tf.Variable);
  for (const batch of batches) {
    const { xs, ys } = datasetBatch(train, batch);
    const cost = opt.minimize(() => softmaxCrossEntropyLoss(ys, ref.model.apply(xs, { training: true }) as tf.Tensor), true, variables);
    tf.dispose([xs, ys]);
    cost?.dispose();
  }
}

function maxAbs(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

describe('the diloco-inner worker task', () => {
  it('is registered under its kind and refuses bad options, naming them', () => {
    expect(WORKER_TASKS['diloco-inner']).toBe(dilocoInnerTask);
    expect(DilocoInnerTaskOptionsSchema.safeParse({ ...options(), extra: 1 }).error?.message).toMatch(/extra/);
    expect(DilocoInnerTaskOptionsSchema.safeParse({ ...options(), inner_steps: 0 }).success).toBe(false);
  });

  it('takes H inner Adam steps on H parts of the slice, keeps the Adam state across rounds, and returns start − end (tfjs Adam as the oracle)', async () => {
    const computer = GradientComputer.create(model, info);
    const ref = GradientComputer.create(model, info);
    const adam = tf.train.adam(0.05, 0.9, 0.999, 1e-7);
    const slices = [Array.from({ length: 12 }, (_, i) => i), Array.from({ length: 12 }, (_, i) => 30 + i)];
    for (const [round, slice] of slices.entries()) {
      const start = computer.getParams();
      const before = tf.memory().numTensors;
      const r = await runRound(computer, round, slice, options());
      expect(tf.memory().numTensors).toBe(before); // the task frees every tensor it makes
      tfjsAdamSteps(ref, adam, [slice.slice(0, 4), slice.slice(4, 8), slice.slice(8, 12)]);
      const expectedEnd = ref.getParams();
      const end = computer.getParams();
      expect(maxAbs(end, expectedEnd)).toBeLessThan(1e-5);
      const expectedDelta = start.map((s, i) => s - expectedEnd[i]!);
      expect(maxAbs(r.values, expectedDelta)).toBeLessThan(1e-5);
      expect(r.loss).toBeGreaterThan(0);
      expect(dilocoInnerOptimizerOf(computer)?.updates).toBe(H * (round + 1));
    }
    // A new model (a new run, or the same worker rejoining) starts a fresh inner state.
    const rejoined = GradientComputer.create(model, info);
    expect(dilocoInnerOptimizerOf(rejoined)).toBeUndefined();
    await runRound(rejoined, 2, slices[0]!, options());
    expect(dilocoInnerOptimizerOf(rejoined)?.updates).toBe(H);
    adam.dispose();
    for (const c of [computer, ref, rejoined]) c.dispose();
  });

  it('with H = 1 and plain SGD the delta is lr × the gradient of the slice, and the schedule runs over round × H + k', async () => {
    const computer = GradientComputer.create(model, info);
    const indices = Array.from({ length: 10 }, (_, i) => 2 * i);
    const { xs, ys } = datasetBatch(train, indices);
    const { grads } = computer.computeGradients(xs, ys);
    tf.dispose([xs, ys]);
    const sgd = options({ inner_steps: 1, optimizer: parseOptimizerSpec({ name: 'sgd', lr: 0.3 }), lr_schedule: { type: 'step', step_size: 5, gamma: 0.5 }, total_inner_steps: 20 });
    // Round 5 of H = 1: inner step 5, the schedule's factor is 0.5.
    const r = await runRound(computer, 5, indices, sgd);
    expect(maxAbs(r.values, grads.map((g) => 0.15 * g))).toBeLessThan(1e-6);
    computer.dispose();
  });
});
