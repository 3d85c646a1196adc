import { CrowdtrainError } from '../protocol/errors.ts';

/** What the data set tells the model builder. */
export interface ModelBuildInfo {
  /** Shape of one sample, without the batch dimension, e.g. [28, 28, 1] or [784]. */
  inputShape: number[];
  numClasses: number;
  /** Same seed => bit-identical initial weights on every worker. */
  seed: number;
  /**
   * How conv layers are computed: 'fast' (FastConv2D, ./fast-conv2d.ts; default: fast on cpu, trainable
   * on wasm) or 'native' (tfjs conv2d: use where the backend has fast conv kernels, e.g. webgl,
   * webgpu, tfjs-node). Both give the same function and the same parameter layout.
   */
  convImplementation?: 'fast' | 'native';
}

/**
 * Derives the initializer seed of layer `index` from the run seed (deterministic, distinct per layer).
 * @example tfl.initializers.glorotUniform({ seed: layerSeed(runSeed, 0) })
 */
export function layerSeed(seed: number, index: number): number {
  // Knuth multiplicative mix keeps seeds distinct for small seed/index pairs.
  return ((seed >>> 0) * 2654435761 + (index + 1) * 40503) % 2147483647;
}

/**
 * Checks what a model builder is given: a non-empty positive input shape, at least 2 classes and a
 * safe-integer seed; throws CrowdtrainError INVALID_CONFIG naming the bad value.
 * @example validateBuildInfo({ inputShape: [28, 28, 1], numClasses: 10, seed: 42 });
 */
export function validateBuildInfo(info: ModelBuildInfo): void {
  const { inputShape, numClasses, seed } = info;
  if (inputShape.length === 0 || inputShape.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new CrowdtrainError('INVALID_CONFIG', `input shape [${inputShape.join(', ')}] must be non-empty positive integers`);
  }
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new CrowdtrainError('INVALID_CONFIG', `num classes ${numClasses} must be an integer >= 2`);
  }
  if (!Number.isSafeInteger(seed)) {
    throw new CrowdtrainError('INVALID_CONFIG', `seed ${seed} must be a safe integer`);
  }
}
