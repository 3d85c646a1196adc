import debug from 'debug';
import type { AdapterInfo } from './software-adapter.ts';
import { describeError } from './import-optional.ts';

const log = debug('crowdtrain:backend');

/** Where the Vulkan ICD of SwiftShader lives when Debian's `chromium` package is installed. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** Result of looking for a WebGPU adapter through Dawn (the `webgpu` npm package). */
export type WebGpuProbe = { ok: true; info: AdapterInfo } | { ok: false; reason: string };

interface NavigatorLike {
  gpu?: GPU;
}

let installed: Promise<GPU> | undefined;

/**
 * Makes `globalThis.navigator.gpu` a Dawn GPU instance (once per process) and copies Dawn's
 * WebGPU globals (GPUBufferUsage, ...) onto `globalThis`. Must run before
 * `@tensorflow/tfjs-backend-webgpu` is first imported: that package registers its backend only
 * if `navigator.gpu` exists at import time. Keeps an existing `navigator` (Node >= 21 defines
 * one, without `gpu`) and an existing `navigator.gpu`.
 * @example const gpu = await installDawnGpu(); const adapter = await gpu.requestAdapter();
 */
export function installDawnGpu(): Promise<GPU> {
  installed ??= (async () => {
    const existing = (globalThis as { navigator?: NavigatorLike }).navigator;
    if (existing?.gpu !== undefined) return existing.gpu;
    const { create, globals } = await import('webgpu');
    for (const [key, value] of Object.entries(globals)) {
      if (!(key in globalThis)) Object.defineProperty(globalThis, key, { value, configurable: true, writable: true });
    }
    const gpu = create([]);
    if (existing !== undefined && Object.isExtensible(existing)) {
      // Node >= 21's navigator is a getter-only global whose object accepts new properties.
      Object.defineProperty(existing, 'gpu', { value: gpu, configurable: true, enumerable: true });
    }
    const after = (globalThis as { navigator?: NavigatorLike }).navigator;
    if (after?.gpu !== gpu) {
      // No navigator, or one we cannot extend: replace it, keeping what it had (userAgent, ...).
      const replacement: object = existing === undefined ? { gpu } : withGpu(existing, gpu);
      Object.defineProperty(globalThis, 'navigator', { value: replacement, configurable: true, writable: true });
    }
    log('installed Dawn as navigator.gpu');
    return gpu;
  })();
  return installed;
}

/** A view of a non-extensible navigator that adds `gpu`; its own getters still run on the original. */
function withGpu(navigator: object, gpu: GPU): object {
  return new Proxy(navigator, {
    get: (target, key) => (key === 'gpu' ? gpu : (Reflect.get(target, key, target) as unknown)),
    has: (target, key) => key === 'gpu' || Reflect.has(target, key),
  });
}

/**
 * Asks Dawn for the adapter tfjs-backend-webgpu would get (`high-performance`) and returns its
 * info, or why there is none.
 * @example const probe = await probeWebGpuAdapter(); if (probe.ok) console.log(probe.info.vendor);
 */
export async function probeWebGpuAdapter(): Promise<WebGpuProbe> {
  let gpu: GPU;
  try {
    gpu = await installDawnGpu();
  } catch (error) {
    return { ok: false, reason: `cannot load Dawn (npm package webgpu): ${describeError(error)}` };
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (adapter === null) {
    return {
      ok: false,
      reason:
        'webgpu: no adapter found; on a machine without a GPU set ' +
        `VK_ICD_FILENAMES=${SWIFTSHADER_ICD} (Debian packages chromium and libvulkan1)`,
    };
  }
  const i = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const legacy = (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const info: AdapterInfo = {
    vendor: i.vendor,
    architecture: i.architecture,
    device: i.device,
    description: i.description,
    isFallbackAdapter: i.isFallbackAdapter ?? legacy,
  };
  log('webgpu adapter %O', info);
  return { ok: true, info };
}
