import type { z } from 'zod';
import type { Dataset } from '../../data/dataset.ts';
import type { GradientComputer } from '../../models/gradient-computer.ts';

/** What a worker task gets for one step of a run. */
export interface WorkerTaskContext<Options = unknown> {
  runId: string;
  step: number;
  epoch: number;
  paramsVersion: number;
  /** The run's model, with the parameters of `paramsVersion` set. */
  computer: GradientComputer;
  /** The run's train split (held locally by every worker). */
  train: Dataset;
  /** The slice of the global batch this worker was assigned: sample indices into `train`. */
  indices: Uint32Array;
  /** The run's task options, as parsed by the task's own schema at run:assign. */
  options: Options;
}

/** What a worker task returns for one step; the loop encodes, chunks and commits `values`. */
export interface WorkerTaskResult {
  /**
   * The step's result vector, one float32 per parameter (paramCount long), in the layout order of
   * the run's model: the gradient of the slice's mean loss for ddp, a weight delta for federated
   * modes. The loop sends it as is; the coordinator validates length, finiteness and norm.
   */
  values: Float32Array;
  /** Mean training loss over the slice. */
  loss: number;
  /** Fraction of the slice classified correctly, in [0, 1]. */
  accuracy: number;
}

/**
 * One kind of work a worker does per step (one registry entry per kind, see ./index.ts). A mode
 * that needs workers to compute something else adds a task, not a fork of the worker loop.
 * @example const myTask: WorkerTask<{ k: number }> = { options: z.object({ k: z.number() }), run: async (ctx) => ... };
 */
export interface WorkerTask<Options = unknown> {
  /** Validates the run's task options at run:assign; a failure refuses the run (INVALID_CONFIG, naming the fields). */
  readonly options: z.ZodType<Options>;
  /**
   * True when `run` changes the computer's parameters (local training): the loop then sets the
   * coordinator's parameters again before the next step instead of assuming they are still there.
   */
  readonly mutatesParams?: boolean;
  /** Computes one step's result on the slice. Must free every tensor it creates. */
  run(ctx: WorkerTaskContext<Options>): Promise<WorkerTaskResult>;
}

/** The task kinds a worker can run, by the `task.kind` name in run:assign. */
export type WorkerTaskRegistry = Readonly<Record<string, WorkerTask>>;
