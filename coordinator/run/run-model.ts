import type { ParamLayout } from '../../core/codec/param-layout.ts';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { GradientComputer, type EvaluationResult } from '../../core/models/gradient-computer.ts';
import { datasetBatch, type Dataset } from '../../core/data/dataset.ts';
import { loadDataset } from '../../core/data/dataset-spec.ts';
import type { DatasetInputInput } from '../../prisma/queries/tracking-store.ts';
import { runDatasetInput } from './dataset-input.ts';
import type { CsvDatasetInfo } from '../../core/data/csv/load-csv-dataset.ts';
import type { RunConfig } from '../../core/config/common-config.ts';
import { EvaluationThread } from './eval-thread.ts';
import { csvFeatureGroups } from '../../core/data/csv/csv-feature-groups.ts';
import type { PermutationImportanceResult } from '../../core/metrics/permutation-importance.ts';

/** Test samples per forward pass of an evaluation (in the thread and in-thread alike). */
export const EVAL_BATCH_SIZE = 500;

/**
 * The coordinator's copy of a run's model and data: the seeded initial parameters, the sizes a
 * mode is built from, and evaluation of the master parameters on the test split — off the event
 * loop in the run's {@link EvaluationThread} ({@link evaluateOffThread}), or on this thread
 * ({@link evaluate}, the reference the thread's results are bitwise equal to).
 */
export class RunModel {
  private closed: Promise<void> | null = null;

  private constructor(
    private readonly computer: GradientComputer,
    private readonly train: Dataset,
    private readonly test: Dataset,
    private readonly thread: EvaluationThread,
    /** Where a csv data set came from (content hash, files, rows, the fitted transform); undefined for built-in data. */
    readonly datasetInfo: CsvDatasetInfo | undefined,
    /** The data set version the run trains on, as the tracking store logs it (coordinator/run/dataset-input.ts). */
    readonly datasetInput: DatasetInputInput,
  ) {}

  /**
   * Loads the config's dataset and builds its model (seeded like every worker's); starts the
   * run's evaluation thread, which builds its own copy while the run waits for workers.
   */
  static async open(config: RunConfig): Promise<RunModel> {
    const loaded = await loadDataset(config.dataset);
    const { train, test, csv } = loaded;
    const datasetInput = runDatasetInput(config.dataset, loaded);
    const computer = GradientComputer.create(config.model, { inputShape: train.inputShape, numClasses: train.numClasses, seed: config.seed });
    let thread: EvaluationThread;
    try {
      thread = EvaluationThread.start({
        runName: config.name,
        model: config.model,
        seed: config.seed,
        // The backend this thread evaluates on (wasm under `npm start`): the thread uses the same.
        backend: tf.getBackend(),
        paramCount: computer.layout.totalSize,
        batchSize: EVAL_BATCH_SIZE,
        test,
      });
    } catch (err) {
      computer.dispose();
      throw err;
    }
    return new RunModel(computer, train, test, thread, csv, datasetInput);
  }

  /** Float32 values in the flat parameter vector. */
  get paramCount(): number {
    return this.computer.layout.totalSize;
  }

  /** The model's tensors in the flat parameter vector (name, offset, size each). */
  get layout(): ParamLayout {
    return this.computer.layout;
  }

  /** Samples in the train split. */
  get datasetSize(): number {
    return this.train.size;
  }

  /**
   * The names of the classes, in label order (the rows and columns of an evaluation's confusion
   * matrix): a csv data set's label values, an image folder's class folders, otherwise the class
   * indices "0".."K-1" (the digits of MNIST).
   */
  get classNames(): string[] {
    // The data set's profile names them (core/data/dataset-profile.ts classNames: csv label values, image folder names).
    const named = (JSON.parse(this.datasetInput.profile ?? 'null') as { classes?: { name: string }[] } | null)?.classes?.map((c) => c.name);
    if (named && named.length === this.test.numClasses) return named;
    return Array.from({ length: this.test.numClasses }, (_, i) => String(i));
  }

  /** The seeded initial parameters (a fresh copy). */
  initialParams(): Float32Array {
    return this.computer.getParams();
  }

  /**
   * Loss, accuracy and confusion matrix of `params` on the whole test split, computed on this
   * thread: it blocks the event loop for the whole evaluation. Runs use {@link evaluateOffThread}.
   */
  evaluate(params: Float32Array): EvaluationResult {
    this.computer.setParams(params);
    const { xs, ys } = datasetBatch(this.test, Array.from({ length: this.test.size }, (_, i) => i));
    try {
      return this.computer.evaluate(xs, ys, EVAL_BATCH_SIZE);
    } finally {
      tf.dispose([xs, ys]);
    }
  }

  /**
   * Loss, accuracy and confusion matrix of `params` on the whole test split, computed in the run's
   * evaluation thread (bitwise the same numbers as {@link evaluate}). `params` is copied before
   * this returns; results come back in call order.
   */
  evaluateOffThread(params: Float32Array): Promise<EvaluationResult> {
    return this.thread.evaluate(params);
  }

  /**
   * Permutation feature importance of `params` on the test split, per source column of a csv data
   * set (its transform's features), computed in the run's evaluation thread; null for data sets
   * without a transform (images). `params` is copied before this returns.
   */
  featureImportanceOffThread(params: Float32Array, opts: { repeats: number; seed: number }): Promise<PermutationImportanceResult> | null {
    const transform = this.datasetInfo?.transform;
    if (!transform) return null;
    return this.thread.importance(params, { groups: csvFeatureGroups(transform), ...opts });
  }

  /** Resolves with the backend of the run's evaluation thread once it is up (rejects when it could not start). */
  evaluationThreadReady(): Promise<{ backend: string }> {
    return this.thread.whenReady();
  }

  /** Releases the model's tensors and terminates the evaluation thread (see {@link close} to wait for it). */
  dispose(): void {
    if (this.closed) return;
    this.computer.dispose();
    this.closed = this.thread.close();
  }

  /** {@link dispose}, resolving when the evaluation thread has ended. */
  close(): Promise<void> {
    this.dispose();
    return this.closed ?? Promise.resolve();
  }
}
