import { existsSync } from 'node:fs';
import { SWIFTSHADER_ICD } from '../../../worker-node/backend/webgpu-adapter.ts';

const LIBVULKAN_PATHS = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1', '/usr/lib/libvulkan.so.1', '/usr/lib64/libvulkan.so.1'];

/**
 * Why Dawn cannot reach SwiftShader on this machine, or undefined when it can: it needs
 * Chromium's SwiftShader Vulkan ICD and the Vulkan loader (libvulkan.so.1).
 * @example const why = swiftShaderMissing(); describe.skipIf(why !== undefined)(...)
 */
export function swiftShaderMissing(): string | undefined {
  const missing: string[] = [];
  if (!existsSync(SWIFTSHADER_ICD)) missing.push(`${SWIFTSHADER_ICD} is missing (apt-get install -y chromium)`);
  if (!LIBVULKAN_PATHS.some((p) => existsSync(p))) missing.push('libvulkan.so.1 is missing (apt-get install -y libvulkan1)');
  return missing.length > 0 ? missing.join('; ') : undefined;
}
