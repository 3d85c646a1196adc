import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import type { BrowserBackendRequest } from './backend-request.ts';
import { TFJS_WASM_PATH } from '../../core/data/dataset-route.ts';

type ConcreteBrowserBackend = Exclude<BrowserBackendRequest, 'auto'>;

/** The order `auto` tries backends in. */
const AUTO_ORDER: readonly ConcreteBrowserBackend[] = ['webgpu', 'webgl', 'wasm', 'cpu'];


/** The backend a tab ended up on, what it runs on, and what `auto` passed over on the way. */
export interface BrowserBackendChoice {
  backend: string;
  requested: BrowserBackendRequest;
  /** Adapter or renderer description, e.g. "google swiftshader" or a WebGL renderer string. */
  adapter: string | null;
  /** Whether the adapter is a software emulation (SwiftShader, fallback adapter). */
  software: boolean;
  fallbacks: { backend: string; reason: string }[];
}

type Attempt = { ok: true; adapter: string | null; software: boolean } | { ok: false; reason: string };

interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
  isFallbackAdapter?: boolean;
}
interface GpuLike {
  requestAdapter(opts?: { powerPreference?: string }): Promise<GpuAdapterLike | null>;
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function attemptWebGpu(explicit: boolean): Promise<Attempt> {
  const gpu = (globalThis.navigator as { gpu?: GpuLike } | undefined)?.gpu;
  if (!gpu) return { ok: false, reason: 'this browser has no navigator.gpu (WebGPU is off or unsupported)' };
  let adapter: GpuAdapterLike | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    return { ok: false, reason: `requestAdapter failed: ${describeError(err)}` };
  }
  if (!adapter) return { ok: false, reason: 'navigator.gpu.requestAdapter() found no adapter' };
  const info = adapter.info ?? {};
  const description = [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(' ') || 'unknown adapter';
  const software = adapter.isFallbackAdapter === true || /swiftshader/i.test(description);
  if (software && !explicit) {
    return { ok: false, reason: `the WebGPU adapter is a software emulation (${description}), slower than WebGL; ask for ?backend=webgpu to use it anyway` };
  }
  try {
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) return { ok: false, reason: "tf.setBackend('webgpu') failed" };
  } catch (err) {
    return { ok: false, reason: `WebGPU backend setup failed: ${describeError(err)}` };
  }
  return { ok: true, adapter: description, software };
}

async function attemptWebGl(): Promise<Attempt> {
  try {
    await import('@tensorflow/tfjs-backend-webgl');
    if (!(await tf.setBackend('webgl'))) return { ok: false, reason: 'WebGL context could not be created' };
  } catch (err) {
    return { ok: false, reason: `WebGL backend setup failed: ${describeError(err)}` };
  }
  let renderer: string | null = null;
  try {
    const gl = document.createElement('canvas').getContext('webgl2');
    const ext = gl?.getExtension('WEBGL_debug_renderer_info');
    if (gl && ext) renderer = String(gl.getParameter(ext.UNMASKED_RENDERER_WEBGL));
  } catch {
    renderer = null;
  }
  return { ok: true, adapter: renderer, software: renderer !== null && /swiftshader|llvmpipe|software/i.test(renderer) };
}

async function attemptWasm(): Promise<Attempt> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(new URL(TFJS_WASM_PATH, globalThis.location.href).href);
    if (!(await tf.setBackend('wasm'))) return { ok: false, reason: "tf.setBackend('wasm') failed" };
  } catch (err) {
    return { ok: false, reason: `WASM backend setup failed: ${describeError(err)}` };
  }
  return { ok: true, adapter: 'WebAssembly (CPU)', software: true };
}

async function attemptCpu(): Promise<Attempt> {
  if (!(await tf.setBackend('cpu'))) return { ok: false, reason: "tf.setBackend('cpu') failed" };
  return { ok: true, adapter: 'JavaScript (CPU)', software: true };
}

function attempt(backend: ConcreteBrowserBackend, explicit: boolean): Promise<Attempt> {
  switch (backend) {
    case 'webgpu':
      return attemptWebGpu(explicit);
    case 'webgl':
      return attemptWebGl();
    case 'wasm':
      return attemptWasm();
    case 'cpu':
      return attemptCpu();
    default: {
      const unreachable: never = backend;
      return Promise.resolve({ ok: false, reason: `unknown backend ${String(unreachable)}` });
    }
  }
}

/**
 * Sets up the tfjs backend of this tab and makes it current. `auto` tries WebGPU on a hardware
 * adapter, then WebGL, then WASM, then cpu, recording why it passed each one over. An explicit
 * request that cannot be met falls back the same way (a tab should train rather than refuse),
 * with the failed request first in `fallbacks`.
 * @example const choice = await selectBrowserBackend('auto'); // { backend: 'webgl', fallbacks: [{ backend: 'webgpu', reason: ... }] }
 */
export async function selectBrowserBackend(request: BrowserBackendRequest): Promise<BrowserBackendChoice> {
  const fallbacks: BrowserBackendChoice['fallbacks'] = [];
  const order: ConcreteBrowserBackend[] = request === 'auto' ? [...AUTO_ORDER] : [request, ...AUTO_ORDER.filter((b) => b !== request)];
  for (const backend of order) {
    const result = await attempt(backend, backend === request);
    if (result.ok) return { backend: tf.getBackend(), requested: request, adapter: result.adapter, software: result.software, fallbacks };
    fallbacks.push({ backend, reason: result.reason });
  }
  throw new CrowdtrainError('BACKEND_UNAVAILABLE', `no tfjs backend could be set up: ${fallbacks.map((f) => `${f.backend}: ${f.reason}`).join('; ')}`);
}
