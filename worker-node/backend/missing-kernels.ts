import * as tf from '@tensorflow/tfjs-core';

/** Kernels a model with convolutions needs to train (the gradients of Conv2D). */
export const CONV_BACKPROP_KERNELS: readonly string[] = ['Conv2DBackpropFilter', 'Conv2DBackpropInput'];

/**
 * The kernels among `kernelNames` that `backendName` has not registered. A backend's kernels
 * are registered when its package is imported, so this works before the backend is initialised.
 * @example missingKernels('wasm', CONV_BACKPROP_KERNELS); // => ['Conv2DBackpropFilter']
 */
export function missingKernels(backendName: string, kernelNames: readonly string[]): string[] {
  return kernelNames.filter((name) => tf.getKernel(name, backendName) === undefined);
}
