/**
 * The baseline of the step-overhead bench: the same training as a coordinator + worker, in one
 * process, on the current tfjs backend. One step = gather the batch, forward/backward
 * (GradientComputer), then the coordinator's own update sequence (applyGradientStep: clip, LR from
 * the schedule, flat optimizer): exactly what the fleet computes, without any messaging,
 * validation or tracking.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { RunConfig } from '../../core/config/run-config.ts';
import { datasetBatch, type Dataset } from '../../core/data/dataset.ts';
import { GradientComputer } from '../../core/models/gradient-computer.ts';
import { createFlatOptimizer, type FlatOptimizer } from '../../core/optim/flat-optimizer.ts';
import { applyGradientStep } from '../../core/run/ddp/ddp-update-rule.ts';

/** Timing and loss of one in-process step. */
export interface InProcessStep {
  /** The update index (0-based), as the coordinator counts it. */
  step: number;
  ms: number;
  loss: number;
}

/**
 * Trains a run config's model in this process, one global batch per call of {@link trainStep},
 * keeping parameters and optimizer state between calls (so a baseline can be measured in
 * several blocks around other work).
 * @example
 * const trainer = new InProcessTrainer(config, train);
 * try { for (const b of batches) steps.push(trainer.trainStep(b)); } finally { trainer.dispose(); }
 */
export class InProcessTrainer {
  private readonly computer: GradientComputer;
  private readonly params: Float32Array;
  private readonly optimizer: FlatOptimizer;
  private nextStep = 0;

  constructor(
    private readonly config: RunConfig,
    private readonly train: Dataset,
  ) {
    this.computer = GradientComputer.create(config.model, { inputShape: train.inputShape, numClasses: train.numClasses, seed: config.seed });
    this.params = this.computer.getParams();
    this.optimizer = createFlatOptimizer(config.optimizer, this.params.length);
  }

  /** Number of float32 parameters of the model. */
  get paramCount(): number {
    return this.params.length;
  }

  /** Index of the next update. */
  get step(): number {
    return this.nextStep;
  }

  /** Runs one update on the samples at `indices` and returns how long it took. */
  trainStep(indices: readonly number[]): InProcessStep {
    const started = performance.now();
    this.computer.setParams(this.params);
    const { xs, ys } = datasetBatch(this.train, indices);
    let grads: Float32Array;
    let loss: number;
    try {
      ({ grads, loss } = this.computer.computeGradients(xs, ys));
    } finally {
      tf.dispose([xs, ys]);
    }
    applyGradientStep(this.params, grads, this.optimizer, this.config, this.nextStep);
    const step = this.nextStep;
    this.nextStep += 1;
    return { step, ms: performance.now() - started, loss };
  }

  /** Loss and accuracy of the current parameters on `test`, and how long that took (ms). */
  evaluate(test: Dataset, batchSize = 500): { loss: number; accuracy: number; ms: number } {
    const started = performance.now();
    this.computer.setParams(this.params);
    const { xs, ys } = datasetBatch(test, Array.from({ length: test.size }, (_, i) => i));
    try {
      return { ...this.computer.evaluate(xs, ys, batchSize), ms: performance.now() - started };
    } finally {
      tf.dispose([xs, ys]);
    }
  }

  /** Releases the model's tensors. */
  dispose(): void {
    this.computer.dispose();
  }
}
