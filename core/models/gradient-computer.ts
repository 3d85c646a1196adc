import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { CrowdtrainError } from '../protocol/errors.ts';
import { assignFlatWeights, flattenWeights, layoutOfModel } from '../codec/param-layout.ts';
import type { ParamLayout } from '../codec/param-layout.ts';
import { buildModel, softmaxCrossEntropyLoss } from './model-spec.ts';
import type { ModelBuildInfo, ModelSpec } from './model-spec.ts';

/** What one gradient computation returns. */
export interface GradientResult {
  /** d(mean loss)/d(params), flattened in layout order; owned by the caller (a view of the fresh read-back array). */
  grads: Float32Array;
  /** Mean softmax cross-entropy over the batch. */
  loss: number;
  /** Fraction of the batch whose arg-max logit matches the arg-max label. */
  accuracy: number;
}

/** Loss, accuracy and confusion matrix of a model on a data set. */
export interface EvaluationResult {
  loss: number;
  accuracy: number;
  /**
   * Sample counts, numClasses × numClasses: `confusion[t][p]` is how many samples of true class
   * `t` (arg-max label) the model predicts as class `p` (arg-max logit). Its trace / total is
   * `accuracy`.
   */
  confusion: number[][];
}

function batchSizeOf(xs: tf.Tensor, ys: tf.Tensor): number {
  const n = xs.shape[0];
  if (n === undefined || n === 0) throw new CrowdtrainError('SHAPE_MISMATCH', 'batch is empty');
  if (ys.shape[0] !== n) {
    throw new CrowdtrainError('SHAPE_MISMATCH', `batch has ${n} inputs but ${ys.shape[0]} labels`);
  }
  return n;
}

/**
 * A worker's numeric core: one model, its flat parameter layout, and the gradient of the mean
 * loss on a batch as one flat Float32Array. Leak-free: tensor count is constant across calls.
 * @example
 * const gc = GradientComputer.create(spec, { inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
 * gc.setParams(paramsFromCoordinator);
 * const { grads, loss } = gc.computeGradients(xs, ys); // grads.length === gc.layout.totalSize
 */
export class GradientComputer {
  readonly layout: ParamLayout;
  readonly model: tfl.LayersModel;
  private readonly variables: tf.Variable[];
  private disposed = false;

  private constructor(model: tfl.LayersModel) {
    this.model = model;
    this.layout = layoutOfModel(model);
    this.variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  /** Builds the spec's model (seeded: identical on every worker for the same info). */
  static create(spec: ModelSpec, info: ModelBuildInfo): GradientComputer {
    return new GradientComputer(buildModel(spec, info));
  }

  /** Wraps an existing model (ownership passes to the computer: dispose() disposes it). */
  static fromModel(model: tfl.LayersModel): GradientComputer {
    return new GradientComputer(model);
  }

  /** The current parameters as a new flat array in layout order. */
  getParams(): Float32Array {
    this.assertAlive();
    return flattenWeights(this.model, this.layout);
  }

  /** Replaces the parameters (copied); throws SHAPE_MISMATCH if `flat` has the wrong length. */
  setParams(flat: Float32Array): void {
    this.assertAlive();
    assignFlatWeights(this.model, this.layout, flat);
  }

  /**
   * Gradient of the MEAN loss over the batch w.r.t. every param, flattened in layout order
   * (float32), plus the mean loss and accuracy of the batch. `ys` is one-hot [n, numClasses].
   * One device read-back per call.
   */
  computeGradients(xs: tf.Tensor, ys: tf.Tensor): GradientResult {
    const { packed, n } = this.packGradients(xs, ys);
    let data: Float32Array;
    try {
      data = packed.dataSync() as Float32Array;
    } finally {
      packed.dispose();
    }
    return this.unpack(data, n);
  }

  /**
   * Same as {@link computeGradients} (same numbers), but reads the result back asynchronously.
   * Browsers have no synchronous GPU read-back: WebGPU's `dataSync` goes through a canvas that can
   * return zeros (headless Chromium) and stalls the tab, so browser workers must use this.
   */
  async computeGradientsAsync(xs: tf.Tensor, ys: tf.Tensor): Promise<GradientResult> {
    const { packed, n } = this.packGradients(xs, ys);
    let data: Float32Array;
    try {
      // WebGPU has no correct synchronous read-back in browsers; elsewhere dataSync is the quicker path.
      data = (tf.getBackend() === 'webgpu' ? await packed.data() : packed.dataSync()) as Float32Array;
    } finally {
      packed.dispose();
    }
    return this.unpack(data, n);
  }

  /** Gradients, loss and correct count packed into one flat tensor the caller must dispose. */
  private packGradients(xs: tf.Tensor, ys: tf.Tensor): { packed: tf.Tensor; n: number } {
    this.assertAlive();
    const n = batchSizeOf(xs, ys);
    const packed = tf.tidy(() => {
      let logitsKept: tf.Tensor | undefined;
      const { value, grads } = tf.variableGrads(() => {
        const logits = this.model.apply(xs, { training: true }) as tf.Tensor;
        logitsKept = tf.keep(logits);
        return softmaxCrossEntropyLoss(ys, logits);
      }, this.variables);
      if (logitsKept === undefined) throw new CrowdtrainError('INTERNAL', 'model produced no logits');
      const correct = tf.sum(tf.cast(tf.equal(tf.argMax(logitsKept, -1), tf.argMax(ys, -1)), 'float32'));
      const parts = this.variables.map((v) => {
        const g = grads[v.name];
        // A parameter the loss does not depend on has a zero gradient.
        return g === undefined ? tf.zeros([v.size]) : tf.reshape(g, [-1]);
      });
      parts.push(tf.reshape(value, [1]), tf.reshape(correct, [1]));
      logitsKept.dispose();
      return tf.concat(parts);
    });
    return { packed, n };
  }

  private unpack(data: Float32Array, n: number): GradientResult {
    const total = this.layout.totalSize;
    // The read-back array is fresh and ours (every backend copies on read or drops its own
    // reference on dispose), so the gradient is a view of it: no copy per step.
    const grads = data.subarray(0, total);
    const loss = data[total] ?? Number.NaN;
    const correct = data[total + 1] ?? 0;
    return { grads, loss, accuracy: correct / n };
  }

  /**
   * Mean loss, accuracy and the confusion matrix over all samples, evaluated in batches of
   * `batchSize` (default 256). Each batch's counts are computed on the backend (a bincount of
   * `true * K + predicted`) and read back with its loss and hits in one transfer: logits never
   * leave the backend.
   */
  evaluate(xs: tf.Tensor, ys: tf.Tensor, batchSize = 256): EvaluationResult {
    this.assertAlive();
    const n = batchSizeOf(xs, ys);
    if (!Number.isInteger(batchSize) || batchSize <= 0) {
      throw new CrowdtrainError('INVALID_CONFIG', `evaluation batch size ${batchSize} must be a positive integer`);
    }
    const k = ys.shape[ys.rank - 1] ?? 0;
    if (ys.rank !== 2 || k < 1) throw new CrowdtrainError('SHAPE_MISMATCH', `labels must be one-hot [n, numClasses], got shape [${ys.shape.join(', ')}]`);
    let lossSum = 0;
    let correct = 0;
    const counts = new Array<number>(k * k).fill(0);
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const stats = tf.tidy(() => {
        const x = tf.slice(xs, start, size);
        const y = tf.slice(ys, start, size);
        const logits = this.model.apply(x, { training: false }) as tf.Tensor;
        const loss = tf.mul(softmaxCrossEntropyLoss(y, logits), size);
        const predicted = tf.argMax(logits, -1);
        const actual = tf.argMax(y, -1);
        const hits = tf.sum(tf.cast(tf.equal(predicted, actual), 'float32'));
        const cells = tf.bincount(tf.add<tf.Tensor1D>(tf.mul(actual, tf.scalar(k, 'int32')), predicted), tf.tensor1d([], 'float32'), k * k);
        return tf.concat([tf.stack([loss, hits]), cells]);
      });
      const values = stats.dataSync();
      stats.dispose();
      lossSum += values[0] ?? Number.NaN;
      correct += values[1] ?? 0;
      for (let i = 0; i < k * k; i++) counts[i]! += values[i + 2] ?? 0;
    }
    const confusion = Array.from({ length: k }, (_, t) => counts.slice(t * k, (t + 1) * k));
    return { loss: lossSum / n, accuracy: correct / n, confusion };
  }

  /** Releases the model's tensors; the computer is unusable afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }

  private assertAlive(): void {
    if (this.disposed) throw new CrowdtrainError('INTERNAL', 'gradient computer used after dispose()');
  }
}
