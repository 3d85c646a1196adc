import * as tf from '@tensorflow/tfjs-core';
import debug from 'debug';
import type { BackendAttempt } from './backend-attempt.ts';
import { describeError, importOptional } from './import-optional.ts';
import { missingKernels } from './missing-kernels.ts';

const log = debug('crowdtrain:backend');

/** The packages that provide the native `tensorflow` backend, in order of preference. */
export const TFJS_NODE_PACKAGES: readonly string[] = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];

/** How to get the `tensorflow` backend, for error messages. */
export const TENSORFLOW_HINT =
  'tensorflow backend needs @tensorflow/tfjs-node-gpu (CUDA 11.2 + cuDNN 8.1) or @tensorflow/tfjs-node: ' +
  'npm install @tensorflow/tfjs-node-gpu@' +
  tf.version_core;

interface TfjsNodeModule {
  version?: Record<string, string | undefined>;
}

/**
 * Loads tfjs-node-gpu (then tfjs-node) if installed and makes its native `tensorflow` backend
 * current. tfjs-node imports the `@tensorflow/tfjs` umbrella, but the tfjs engine and kernel
 * registry are process globals, so its backend is visible to this worker's tfjs-core even when
 * npm did not dedupe the two copies (a version mismatch is reported in `device.description`).
 * @example const r = await setupTensorflow([]); if (!r.ok) console.log(r.reason);
 */
export async function setupTensorflow(requiredKernels: readonly string[]): Promise<BackendAttempt> {
  const reasons: string[] = [];
  for (const pkg of TFJS_NODE_PACKAGES) {
    const imported = await importOptional<TfjsNodeModule>(pkg);
    if (!imported.ok) {
      reasons.push(imported.missing ? `${pkg} is not installed` : `${pkg} failed to load: ${describeError(imported.error)}`);
      continue;
    }
    if (tf.findBackendFactory('tensorflow') == null) {
      reasons.push(`${pkg} loaded but no 'tensorflow' backend is registered with this worker's @tensorflow/tfjs-core`);
      continue;
    }
    const missing = missingKernels('tensorflow', requiredKernels);
    if (missing.length > 0) {
      return { ok: false, reason: `tensorflow (${pkg}) lacks kernels ${missing.join(', ')}` };
    }
    if (!(await tf.setBackend('tensorflow'))) {
      reasons.push(`${pkg} loaded but tf.setBackend('tensorflow') failed (see the warning tfjs logged)`);
      continue;
    }
    const versions = imported.module.version ?? {};
    const nodeVersion = versions['tfjs-node'];
    const coreVersion = versions['tfjs-core'];
    const skew =
      coreVersion !== undefined && coreVersion !== tf.version_core
        ? `; its tfjs-core ${coreVersion} differs from the worker's ${tf.version_core}`
        : '';
    log('tensorflow backend from %s %s%s', pkg, nodeVersion ?? '?', skew);
    return {
      ok: true,
      device: {
        description: `${pkg}${skew}`,
        ...(nodeVersion !== undefined ? { tfjsNodeVersion: nodeVersion } : {}),
      },
    };
  }
  return { ok: false, reason: reasons.join('; '), hint: TENSORFLOW_HINT };
}
