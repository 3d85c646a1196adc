/** The identifying fields of a WebGPU adapter (`GPUAdapter.info`). */
export interface AdapterInfo {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

const SOFTWARE_NAMES = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b|\bcpu\b/i;

/**
 * Says why an adapter is a software (CPU-emulated) one, or returns undefined for a real GPU.
 * Such an adapter runs WebGPU kernels correctly but far slower than the cpu backend, so `auto`
 * skips it (an explicit `webgpu` request still uses it).
 * @example
 * softwareAdapterReason({ vendor: 'google', architecture: 'swiftshader' });
 * // => 'adapter google/swiftshader is a software (CPU-emulated) adapter'
 */
export function softwareAdapterReason(info: AdapterInfo): string | undefined {
  const name = adapterLabel(info);
  if (info.isFallbackAdapter === true) return `adapter ${name} is a fallback (software) adapter`;
  const fields = [info.vendor, info.architecture, info.device, info.description];
  if (fields.some((f) => f !== undefined && SOFTWARE_NAMES.test(f))) {
    return `adapter ${name} is a software (CPU-emulated) adapter`;
  }
  return undefined;
}

/** `vendor/architecture` of an adapter, falling back to its description, for messages. */
export function adapterLabel(info: AdapterInfo): string {
  const parts = [info.vendor, info.architecture].filter((p): p is string => p !== undefined && p !== '');
  if (parts.length > 0) return parts.join('/');
  return info.description !== undefined && info.description !== '' ? info.description : 'unknown';
}
