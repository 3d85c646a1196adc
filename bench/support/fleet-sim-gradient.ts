/**
 * The gradients the simulated workers of the fleet-sim bench replay: real gradients of the run's
 * model at its initial parameters (seeded exactly as the coordinator and every worker build it),
 * each of the mean loss over its own slice of the train split, computed once with the real
 * GradientComputer. A replayed gradient is valid for the coordinator — right length, finite, of a
 * real norm — though not of the slice it answers (the coordinator cannot tell, and does the same work).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { RunConfig } from '../../core/config/run-config.ts';
import { loadDataset } from '../../core/data/dataset-spec.ts';
import { datasetBatch } from '../../core/data/dataset.ts';
import { float32ToBytes } from '../../core/codec/float-bytes.ts';
import { GradientComputer } from '../../core/models/gradient-computer.ts';

/** One precomputed gradient. */
export interface PrecomputedGradient {
  /** float32 little-endian, paramCount values. */
  bytes: Uint8Array;
  loss: number;
  accuracy: number;
  /** L2 norm of the gradient. */
  norm: number;
}

/** The gradients and the sizes the simulated workers report. */
export interface PrecomputedGradients {
  paramCount: number;
  datasetSize: number;
  gradients: PrecomputedGradient[];
}

/**
 * Computes `count` gradients of `config`'s model, each on `sliceSize` consecutive train samples
 * (disjoint slices), on tfjs's cpu backend.
 * @example const { paramCount, gradients } = await precomputeGradients(config, 4, 32);
 */
export async function precomputeGradients(config: RunConfig, count: number, sliceSize: number): Promise<PrecomputedGradients> {
  if (!Number.isInteger(count) || count < 1) throw new Error(`gradient count ${count} must be a positive integer`);
  if (tf.getBackend() !== 'cpu') {
    if (!(await tf.setBackend('cpu'))) throw new Error('the tfjs cpu backend could not be initialised');
  }
  const { train } = await loadDataset(config.dataset);
  if (count * sliceSize > train.size) throw new Error(`${count} slices of ${sliceSize} samples need ${count * sliceSize} train samples, the data set has ${train.size}`);
  const computer = GradientComputer.create(config.model, { inputShape: train.inputShape, numClasses: train.numClasses, seed: config.seed });
  try {
    const gradients: PrecomputedGradient[] = [];
    for (let k = 0; k < count; k++) {
      const indices = Array.from({ length: sliceSize }, (_, i) => k * sliceSize + i);
      const { xs, ys } = datasetBatch(train, indices);
      try {
        const { grads, loss, accuracy } = computer.computeGradients(xs, ys);
        const values = grads.slice();
        let sq = 0;
        for (const v of values) {
          if (!Number.isFinite(v)) throw new Error(`precomputed gradient ${k} has a non-finite value`);
          sq += v * v;
        }
        gradients.push({ bytes: float32ToBytes(values).slice(), loss, accuracy, norm: Math.sqrt(sq) });
      } finally {
        tf.dispose([xs, ys]);
      }
    }
    return { paramCount: computer.layout.totalSize, datasetSize: train.size, gradients };
  } finally {
    computer.dispose();
  }
}
