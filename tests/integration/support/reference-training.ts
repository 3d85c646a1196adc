import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type * as tfl from '@tensorflow/tfjs-layers';
import { validateRunConfig, type RunConfig, type RunConfigInput } from '../../../core/config/run-config.ts';
import { loadDataset } from '../../../core/data/dataset-spec.ts';
import type { Dataset } from '../../../core/data/dataset.ts';
import { EpochSampler } from '../../../core/data/epoch-sampler.ts';
import { buildModel } from '../../../core/models/model-spec.ts';
import { Float64AdamW, referenceLr, type ReferenceLrSchedule } from '../../support/float64-reference.ts';

/*
 * The oracle of the DDP equivalence tests. What the coordinator does for an update (workers'
 * slice gradients → weighted-mean reduce → clip → LR schedule → flat optimizer) is the code under
 * test, so none of it is reused here: the gradient is tfjs's `variableGrads` of the mean loss over
 * the WHOLE global batch (gathered here, not by core's datasetBatch), clipping and the LR schedule
 * are written here (float64), and the update is tfjs's own optimizer (`tf.train.sgd`,
 * `tf.train.momentum`, `tf.train.adam`) or, for AdamW (tfjs has none), the float64 formula of
 * tests/support/float64-reference.ts.
 *
 * Taken from the project on purpose, because the claim under test is about distributed training,
 * not about these: the run-config parser, the data set loader, the model architecture and its
 * seeded initial weights (core/models/model-spec.ts buildModel, with tfjs's native conv2d rather
 * than the workers' FastConv2D), and WHICH sample indices form each global batch (the seeded
 * EpochSampler defines the batches the coordinator draws).
 */

/** One-hot batch of the samples at `indices`: xs [n, ...inputShape], ys [n, numClasses] (caller disposes). */
function gatherBatch(ds: Dataset, indices: readonly number[]): { xs: tf.Tensor; ys: tf.Tensor } {
  const len = ds.inputShape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(indices.length * len);
  const y = new Float32Array(indices.length * ds.numClasses);
  indices.forEach((sample, row) => {
    for (let j = 0; j < len; j++) x[row * len + j] = ds.features[sample * len + j]!;
    y[row * ds.numClasses + ds.labels[sample]!] = 1;
  });
  return { xs: tf.tensor(x, [indices.length, ...ds.inputShape]), ys: tf.tensor2d(y, [indices.length, ds.numClasses]) };
}

/** Mean over the batch of −Σ_c y_c · log softmax(logits)_c. */
function meanCrossEntropy(ys: tf.Tensor, logits: tf.Tensor): tf.Scalar {
  return tf.neg(tf.mean(tf.sum(tf.mul(ys, tf.logSoftmax(logits)), -1))) as tf.Scalar;
}

/** torch.nn.utils.clip_grad_norm_: the global L2 norm in float64, scale min(1, max / (norm + 1e-6)). */
function clipScale(grads: readonly Float32Array[], maxNorm: number): number {
  let sum = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sum += g[i]! * g[i]!;
  return Math.min(1, maxNorm / (Math.sqrt(sum) + 1e-6));
}

/** The run's schedule as one the float64 formula knows; warmup_cosine must be written as a chain. */
function referenceSchedule(schedule: RunConfig['lr_schedule']): ReferenceLrSchedule {
  if (schedule.type === 'warmup_cosine') throw new Error('the reference has no warmup_cosine formula: write the schedule as a chain');
  return schedule;
}

type LrSettable = tf.Optimizer & { setLearningRate?: (lr: number) => void; learningRate: number };

/** The tfjs optimizer of a spec (sgd / momentum / Nesterov / adam); null for adamw, which tfjs lacks. */
function tfjsOptimizer(spec: RunConfig['optimizer']): LrSettable | null {
  switch (spec.name) {
    case 'sgd':
      return (spec.momentum > 0 ? tf.train.momentum(spec.lr, spec.momentum, spec.nesterov) : tf.train.sgd(spec.lr)) as unknown as LrSettable;
    case 'adam':
      return tf.train.adam(spec.lr, spec.beta1, spec.beta2, spec.epsilon) as unknown as LrSettable;
    case 'adamw':
      return null;
  }
}

/** Sets a tfjs optimizer's learning rate for the next applyGradients (SGD/momentum cache -lr in a scalar). */
function setLearningRate(opt: LrSettable, lr: number): void {
  if (typeof opt.setLearningRate === 'function') opt.setLearningRate(lr);
  else opt.learningRate = lr;
}

/** The model's trainable parameters concatenated in trainableWeights order (the coordinator's flat layout). */
function flatParams(model: tfl.LayersModel): Float32Array {
  const parts = model.trainableWeights.map((w) => w.read().dataSync() as Float32Array);
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Single-process training on the same global batches the coordinator draws for a fleet of
 * `workers` workers (batch_size × workers samples per update): the ground truth distributed
 * training must reproduce. Returns the final flat parameters and the loss of every update's batch.
 */
export async function trainSingleProcess(
  input: RunConfigInput,
  workers: number,
  updates: number,
): Promise<{ params: Float32Array; losses: number[] }> {
  await tf.setBackend('cpu');
  const config = validateRunConfig(input);
  const { train } = await loadDataset(config.dataset);
  const model = buildModel(config.model, {
    inputShape: train.inputShape,
    numClasses: train.numClasses,
    seed: config.seed,
    convImplementation: 'native',
  });
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const spec = config.optimizer;
  const opt = tfjsOptimizer(spec);
  const adamw =
    spec.name === 'adamw'
      ? new Float64AdamW(flatParams(model), { beta1: spec.beta1, beta2: spec.beta2, epsilon: spec.epsilon, weightDecay: spec.weight_decay })
      : null;
  const sampler = new EpochSampler({ seed: config.seed, datasetSize: train.size });
  const schedule = referenceSchedule(config.lr_schedule);
  const losses: number[] = [];
  try {
    for (let step = 0; step < updates; step++) {
      const { indices } = sampler.nextBatch(config.batch_size * workers);
      const lr = referenceLr(schedule, spec.lr, step, config.total_updates);
      const { xs, ys } = gatherBatch(train, indices);
      const { value, grads } = tf.variableGrads(() => meanCrossEntropy(ys, model.apply(xs, { training: true }) as tf.Tensor), variables);
      tf.dispose([xs, ys]);
      losses.push(value.dataSync()[0]!);
      value.dispose();
      const raw = variables.map((v) => grads[v.name]!.dataSync() as Float32Array);
      tf.dispose(grads);
      const scale = config.max_grad_norm === null ? 1 : clipScale(raw, config.max_grad_norm);
      if (adamw !== null) {
        // Decoupled decay is inside the formula; the float64 params are rounded once per update
        // into the model, which computes the next gradient in float32 like every worker.
        const flat = new Float64Array(adamw.params.length);
        let offset = 0;
        for (const g of raw) for (let i = 0; i < g.length; i++) flat[offset++] = g[i]! * scale;
        adamw.step(flat, lr);
        offset = 0;
        for (const v of variables) {
          const values = Float32Array.from(adamw.params.subarray(offset, offset + v.size));
          tf.tidy(() => v.assign(tf.tensor(values, v.shape)));
          offset += v.size;
        }
        continue;
      }
      // sgd and adam: weight_decay is L2 added to the (clipped) gradient, g + weight_decay * p.
      const wd = spec.weight_decay;
      const named: tf.NamedTensorMap = {};
      variables.forEach((v, k) => {
        named[v.name] = tf.tidy(() => {
          const clipped = tf.tensor(raw[k]!, v.shape);
          const g = scale === 1 ? clipped : tf.mul(clipped, scale);
          return wd > 0 ? tf.add(g, tf.mul(v, wd)) : g;
        });
      });
      setLearningRate(opt!, lr);
      opt!.applyGradients(named);
      tf.dispose(Object.values(named));
    }
    return { params: flatParams(model), losses };
  } finally {
    opt?.dispose();
    model.dispose();
  }
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
