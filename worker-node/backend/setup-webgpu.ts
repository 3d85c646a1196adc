import * as tf from '@tensorflow/tfjs-core';
import type { BackendAttempt } from './backend-attempt.ts';
import { missingKernels } from './missing-kernels.ts';
import { adapterLabel, softwareAdapterReason } from './software-adapter.ts';
import { probeWebGpuAdapter } from './webgpu-adapter.ts';

/**
 * Sets up `@tensorflow/tfjs-backend-webgpu` on Dawn's adapter. With `allowSoftware: false`
 * (what `auto` uses) a SwiftShader/fallback adapter is refused because it is slower than cpu.
 * @example const r = await setupWebGpu({ allowSoftware: true, requiredKernels: [] });
 */
export async function setupWebGpu(options: {
  allowSoftware: boolean;
  requiredKernels: readonly string[];
}): Promise<BackendAttempt> {
  const probe = await probeWebGpuAdapter();
  if (!probe.ok) return { ok: false, reason: probe.reason };
  const software = softwareAdapterReason(probe.info);
  if (software !== undefined && !options.allowSoftware) {
    return {
      ok: false,
      reason: `${software}; it emulates the GPU on the CPU and is slower than the cpu backend (ask for --backend webgpu to use it anyway)`,
    };
  }
  await import('@tensorflow/tfjs-backend-webgpu');
  if (tf.findBackendFactory('webgpu') == null) {
    return {
      ok: false,
      reason:
        '@tensorflow/tfjs-backend-webgpu was imported before navigator.gpu existed, so it registered no backend; ' +
        'let worker-node/backend/select-backend.ts be the first to import it',
    };
  }
  const missing = missingKernels('webgpu', options.requiredKernels);
  if (missing.length > 0) return { ok: false, reason: `webgpu lacks kernels ${missing.join(', ')}` };
  if (!(await tf.setBackend('webgpu'))) {
    return { ok: false, reason: `tf.setBackend('webgpu') failed on adapter ${adapterLabel(probe.info)} (see the warning tfjs logged)` };
  }
  const { vendor, architecture, description } = probe.info;
  return {
    ok: true,
    device: {
      adapter: adapterLabel(probe.info),
      ...(vendor !== undefined && vendor !== '' ? { vendor } : {}),
      ...(architecture !== undefined && architecture !== '' ? { architecture } : {}),
      ...(description !== undefined && description !== '' ? { description } : {}),
    },
  };
}
