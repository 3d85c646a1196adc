import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { GradientComputer } from '../../core/models/gradient-computer.ts';
import { datasetBatch, type Dataset } from '../../core/data/dataset.ts';
import { loadDataset } from '../../core/data/dataset-spec.ts';
import type { RunConfig } from '../../core/config/common-config.ts';

/**
 * The coordinator's copy of a run's model and data: the seeded initial parameters, the sizes a
 * mode is built from, and evaluation of the master parameters on the test split.
 */
export class RunModel {
  private constructor(
    private readonly computer: GradientComputer,
    private readonly train: Dataset,
    private readonly test: Dataset,
  ) {}

  /** Loads the config's dataset and builds its model (seeded like every worker's). */
  static async open(config: RunConfig): Promise<RunModel> {
    const { train, test } = await loadDataset(config.dataset);
    const computer = GradientComputer.create(config.model, { inputShape: train.inputShape, numClasses: train.numClasses, seed: config.seed });
    return new RunModel(computer, train, test);
  }

  /** Float32 values in the flat parameter vector. */
  get paramCount(): number {
    return this.computer.layout.totalSize;
  }

  /** Samples in the train split. */
  get datasetSize(): number {
    return this.train.size;
  }

  /** The seeded initial parameters (a fresh copy). */
  initialParams(): Float32Array {
    return this.computer.getParams();
  }

  /** Loss and accuracy of `params` on the whole test split. */
  evaluate(params: Float32Array): { loss: number; accuracy: number } {
    this.computer.setParams(params);
    const { xs, ys } = datasetBatch(this.test, Array.from({ length: this.test.size }, (_, i) => i));
    try {
      return this.computer.evaluate(xs, ys, 500);
    } finally {
      tf.dispose([xs, ys]);
    }
  }

  /** Releases the model's tensors. */
  dispose(): void {
    this.computer.dispose();
  }
}
