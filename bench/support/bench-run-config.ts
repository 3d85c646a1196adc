/**
 * The run config the step-overhead bench trains: the default experiment's model, data and
 * optimizer (configs/mnist-cnn.yaml) with a fixed global batch, and no evaluation or checkpoint
 * inside the measured updates (the bench stops the run itself before total_updates).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseRunConfig, type RunConfig } from '../../core/config/run-config.ts';

/** configs/mnist-cnn.yaml: the default experiment of `npm start`. */
export const DEFAULT_EXPERIMENT_CONFIG = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'configs', 'mnist-cnn.yaml');

/** Reads and validates a run config file (YAML or JSON). */
export async function loadRunConfigFile(file: string = DEFAULT_EXPERIMENT_CONFIG): Promise<RunConfig> {
  return parseRunConfig(await readFile(file, 'utf8'), file);
}

/** How the bench trains a base config. */
export interface BenchRunShape {
  /** Samples per update over all workers. */
  globalBatch: number;
  /** Workers that share each global batch. */
  workers: number;
  /** Updates the bench observes; the config allows one more so the run never finishes by itself. */
  updates: number;
}

/**
 * `base` with batch_size = globalBatch / workers, total_updates = updates + 1, evaluation and
 * checkpoints pushed past the end, no time limit, min_workers = workers. Throws when the global
 * batch does not split evenly.
 * @example benchRunConfig(await loadRunConfigFile(), { globalBatch: 256, workers: 1, updates: 16 }).batch_size; // 256
 */
export function benchRunConfig(base: RunConfig, shape: BenchRunShape): RunConfig {
  const { globalBatch, workers, updates } = shape;
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`workers ${workers} must be a positive integer`);
  if (!Number.isInteger(updates) || updates < 1) throw new Error(`updates ${updates} must be a positive integer`);
  if (!Number.isInteger(globalBatch) || globalBatch < workers || globalBatch % workers !== 0) {
    throw new Error(`global batch ${globalBatch} does not split evenly over ${workers} workers`);
  }
  const total = updates + 1;
  return {
    ...base,
    name: `${base.name}-bench`,
    experiment: 'bench',
    batch_size: globalBatch / workers,
    total_updates: total,
    eval_every: total + 1,
    checkpoint_every: total + 1,
    time_limit: null,
    min_workers: workers,
  };
}
