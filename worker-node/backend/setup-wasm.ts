import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { BackendAttempt } from './backend-attempt.ts';
import { CONV_BACKPROP_KERNELS, missingKernels } from './missing-kernels.ts';

let pathsSet = false;

/**
 * The directory holding tfjs-backend-wasm's `.wasm` binaries, with a trailing slash, as an
 * absolute file-system path (what `setWasmPaths` needs in Node).
 * @example wasmBinaryDir(); // => '/app/node_modules/@tensorflow/tfjs-backend-wasm/dist/'
 */
export function wasmBinaryDir(): string {
  const require = createRequire(import.meta.url);
  return `${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`;
}

/**
 * Sets up `@tensorflow/tfjs-backend-wasm` (SIMD, no threads in Node), refusing it when the model
 * needs kernels wasm lacks (Conv2DBackpropFilter: conv models cannot train on wasm).
 * @example const r = await setupWasm([]); if (r.ok) console.log(tf.getBackend()); // 'wasm'
 */
export async function setupWasm(requiredKernels: readonly string[]): Promise<BackendAttempt> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const missing = missingKernels('wasm', requiredKernels);
  if (missing.length > 0) {
    const conv = missing.some((k) => CONV_BACKPROP_KERNELS.includes(k));
    return {
      ok: false,
      reason: `wasm cannot train ${conv ? 'conv models' : 'this model'} (missing ${missing.join(', ')}); use cpu or webgpu`,
    };
  }
  if (!pathsSet && tf.engine().registry.wasm === undefined) {
    wasm.setWasmPaths(wasmBinaryDir());
    pathsSet = true;
  }
  if (!(await tf.setBackend('wasm'))) {
    return { ok: false, reason: `tf.setBackend('wasm') failed loading binaries from ${wasmBinaryDir()} (see the warning tfjs logged)` };
  }
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  return { ok: true, device: { description: `wasm (simd ${String(simd)}, threads ${wasm.getThreadsCount()})` } };
}
