import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import debug from 'debug';
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import type { BackendAttempt, BackendDevice } from './backend-attempt.ts';
import { CONV_BACKPROP_KERNELS, missingKernels } from './missing-kernels.ts';
import { setupTensorflow } from './setup-tensorflow.ts';
import { setupWasm } from './setup-wasm.ts';
import { setupWebGpu } from './setup-webgpu.ts';

const log = debug('crowdtrain:backend');

/** The backends a Node worker can be asked for, `auto` first. */
export const BACKEND_REQUESTS = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;

/** A `--backend` value: a backend name or `auto`. */
export type BackendRequest = (typeof BACKEND_REQUESTS)[number];

/** What the model needs from a backend; derived from the model spec (a CNN needs conv backprop). */
export interface BackendNeeds {
  needsConvBackprop: boolean;
}

/** The backend a worker ended up on, what it runs on, and what `auto` passed over on the way. */
export interface BackendChoice {
  /** `tf.getBackend()` after setup. */
  backend: string;
  requested: BackendRequest;
  device: BackendDevice;
  /** Backends `auto` tried before this one, and why it moved on. Empty for explicit requests. */
  fallbacks: { backend: string; reason: string }[];
}

/**
 * Parses a `--backend` value (case-insensitive, surrounding spaces ignored).
 * @example parseBackendRequest('WebGPU'); // => 'webgpu'
 * @throws CrowdtrainError INVALID_CONFIG naming the allowed values.
 */
export function parseBackendRequest(s: string): BackendRequest {
  const v = s.trim().toLowerCase();
  const found = BACKEND_REQUESTS.find((r) => r === v);
  if (found === undefined) {
    throw new CrowdtrainError(
      'INVALID_CONFIG',
      `unknown backend ${JSON.stringify(s)}; expected one of ${BACKEND_REQUESTS.join(', ')}`,
    );
  }
  return found;
}

type ConcreteBackend = Exclude<BackendRequest, 'auto'>;

/** The order in which `auto` tries backends. */
const AUTO_ORDER: readonly ConcreteBackend[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

/**
 * Sets up the tfjs backend for this worker process and makes it current.
 * `auto` tries tfjs-node-gpu/tfjs-node, then WebGPU on a real GPU adapter (a SwiftShader or
 * fallback adapter is skipped: it is slower than cpu), then wasm unless the model needs conv
 * backprop, then cpu. An explicit request that cannot be met throws; it never falls back.
 * @example
 * const choice = await selectBackend('auto', { needsConvBackprop: true });
 * console.log(choice.backend, choice.fallbacks); // 'cpu', [{ backend: 'tensorflow', reason: ... }, ...]
 * @throws CrowdtrainError BACKEND_UNAVAILABLE with how to get the requested backend.
 */
export async function selectBackend(request: BackendRequest, needs: BackendNeeds): Promise<BackendChoice> {
  const requiredKernels = needs.needsConvBackprop ? CONV_BACKPROP_KERNELS : [];
  if (request !== 'auto') {
    const attempt = await attemptBackend(request, requiredKernels, true);
    if (!attempt.ok) {
      const message = attempt.hint !== undefined ? `${attempt.reason}; ${attempt.hint}` : attempt.reason;
      throw new CrowdtrainError('BACKEND_UNAVAILABLE', `backend ${request} unavailable: ${message}`);
    }
    return { backend: tf.getBackend(), requested: request, device: attempt.device, fallbacks: [] };
  }
  const fallbacks: BackendChoice['fallbacks'] = [];
  for (const backend of AUTO_ORDER) {
    const attempt = await attemptBackend(backend, requiredKernels, false);
    if (attempt.ok) {
      log('auto chose %s after %O', backend, fallbacks);
      return { backend: tf.getBackend(), requested: 'auto', device: attempt.device, fallbacks };
    }
    fallbacks.push({ backend, reason: attempt.reason });
  }
  throw new CrowdtrainError(
    'BACKEND_UNAVAILABLE',
    `no backend could be set up: ${fallbacks.map((f) => `${f.backend}: ${f.reason}`).join('; ')}`,
  );
}

/** Tries one backend; never throws for an expected unavailability. */
async function attemptBackend(
  backend: ConcreteBackend,
  requiredKernels: readonly string[],
  explicit: boolean,
): Promise<BackendAttempt> {
  switch (backend) {
    case 'tensorflow':
      return setupTensorflow(requiredKernels);
    case 'webgpu':
      return setupWebGpu({ allowSoftware: explicit, requiredKernels });
    case 'wasm':
      return setupWasm(requiredKernels);
    case 'cpu':
      return setupCpu(requiredKernels);
    default: {
      const unreachable: never = backend;
      throw new CrowdtrainError('INTERNAL', `unhandled backend ${String(unreachable)}`);
    }
  }
}

/** The pure-JS backend: always present, trains every model, slowly. */
async function setupCpu(requiredKernels: readonly string[]): Promise<BackendAttempt> {
  const missing = missingKernels('cpu', requiredKernels);
  if (missing.length > 0) return { ok: false, reason: `cpu lacks kernels ${missing.join(', ')}` };
  if (!(await tf.setBackend('cpu'))) return { ok: false, reason: "tf.setBackend('cpu') failed" };
  return { ok: true, device: { description: 'tfjs-backend-cpu (pure JavaScript)' } };
}
