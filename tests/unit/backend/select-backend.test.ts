import { describe, it, expect, beforeAll } from 'vitest';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers every op's gradient with tfjs-core
import { CrowdtrainError } from '../../../core/protocol/errors.ts';
import { BACKEND_REQUESTS, parseBackendRequest, selectBackend } from '../../../worker-node/backend/select-backend.ts';
import type { BackendChoice } from '../../../worker-node/backend/select-backend.ts';
import { CONV_BACKPROP_KERNELS, missingKernels } from '../../../worker-node/backend/missing-kernels.ts';
import { softwareAdapterReason } from '../../../worker-node/backend/software-adapter.ts';
import { probeWebGpuAdapter } from '../../../worker-node/backend/webgpu-adapter.ts';
import type { WebGpuProbe } from '../../../worker-node/backend/webgpu-adapter.ts';

// This file tests the machine it runs on for real. Without VK_ICD_FILENAMES a machine with no GPU
// has no WebGPU adapter; on a GPU server the expectations below follow what is really there.
delete process.env.VK_ICD_FILENAMES;

const tfjsNodeInstalled = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'].some((pkg) => {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
});

let probe: WebGpuProbe;
let realGpu = false;
beforeAll(async () => {
  probe = await probeWebGpuAdapter();
  realGpu = probe.ok && softwareAdapterReason(probe.info) === undefined;
});

async function expectUnavailable(p: Promise<unknown>, message: RegExp): Promise<void> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CrowdtrainError);
  expect((err as CrowdtrainError).code).toBe('BACKEND_UNAVAILABLE');
  expect((err as CrowdtrainError).message).toMatch(message);
}

/** Gradient of sum((x W)^2) w.r.t. W on the current backend. */
async function denseGradient(): Promise<Float32Array> {
  const x = tf.tensor2d([0.5, -1, 2, 0.25, 1.5, -0.75], [2, 3]);
  const w = tf.tensor2d([0.1, -0.2, 0.3, 0.4, -0.5, 0.6], [3, 2]);
  const g = tf.grad((v: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, v as tf.Tensor2D))))(w);
  const data = (await g.data()) as Float32Array;
  tf.dispose([x, w, g]);
  return data;
}

describe('parseBackendRequest', () => {
  it('accepts every request, case- and space-insensitively', () => {
    for (const r of BACKEND_REQUESTS) expect(parseBackendRequest(r)).toBe(r);
    expect(parseBackendRequest(' WebGPU ')).toBe('webgpu');
  });

  it('rejects an unknown backend, naming the allowed values', () => {
    expect(() => parseBackendRequest('webgl')).toThrow(CrowdtrainError);
    expect(() => parseBackendRequest('webgl')).toThrow('unknown backend "webgl"; expected one of auto, tensorflow, webgpu, wasm, cpu');
    expect(() => parseBackendRequest('')).toThrow(/expected one of/);
  });
});

describe('selectBackend, explicit requests', () => {
  it('cpu is always available and becomes the current backend', async () => {
    const choice = await selectBackend('cpu', { needsConvBackprop: true });
    expect(choice).toEqual<BackendChoice>({ backend: 'cpu', requested: 'cpu', device: { description: 'tfjs-backend-cpu (pure JavaScript)' }, fallbacks: [] });
    expect(tf.getBackend()).toBe('cpu');
  });

  it('wasm trains a dense model and its gradient matches cpu to 1e-5', async () => {
    await selectBackend('cpu', { needsConvBackprop: false });
    const onCpu = await denseGradient();
    const choice = await selectBackend('wasm', { needsConvBackprop: false });
    expect(choice.backend).toBe('wasm');
    expect(choice.device.description).toMatch(/^wasm \(simd (true|false), threads \d+\)$/);
    const before = tf.memory().numTensors;
    const onWasm = await denseGradient();
    expect(tf.memory().numTensors).toBe(before);
    expect(onWasm.length).toBe(6);
    onWasm.forEach((v, i) => expect(Math.abs(v - onCpu[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(onCpu[i]!))));
  });

  it('wasm refuses a conv model, naming the missing kernel', async () => {
    await expectUnavailable(
      selectBackend('wasm', { needsConvBackprop: true }),
      /^backend wasm unavailable: wasm cannot train conv models \(missing Conv2DBackpropFilter\); use cpu or webgpu$/,
    );
    expect(missingKernels('wasm', CONV_BACKPROP_KERNELS)).toEqual(['Conv2DBackpropFilter']);
    expect(missingKernels('cpu', CONV_BACKPROP_KERNELS)).toEqual([]);
  });

  it.skipIf(tfjsNodeInstalled)('tensorflow without tfjs-node says how to install it', async () => {
    await expectUnavailable(
      selectBackend('tensorflow', { needsConvBackprop: false }),
      /@tensorflow\/tfjs-node-gpu is not installed; @tensorflow\/tfjs-node is not installed; tensorflow backend needs @tensorflow\/tfjs-node-gpu \(CUDA 11\.2 \+ cuDNN 8\.1\) or @tensorflow\/tfjs-node: npm install @tensorflow\/tfjs-node-gpu@4\.22\.0/,
    );
  });

  it('webgpu without an adapter says how to get one', async (ctx) => {
    // Where an adapter exists the success path runs in tests/integration/backend/webgpu-dawn.test.ts.
    if (probe.ok) ctx.skip(`a WebGPU adapter exists here (${probe.info.vendor ?? '?'})`);
    await expectUnavailable(selectBackend('webgpu', { needsConvBackprop: true }), /no adapter found.*VK_ICD_FILENAMES=\/usr\/lib\/chromium\/vk_swiftshader_icd\.json/);
  });
});

describe('selectBackend auto', () => {
  it('picks wasm for a dense model when there is no native or GPU backend, recording why', async () => {
    const choice = await selectBackend('auto', { needsConvBackprop: false });
    expect(choice.requested).toBe('auto');
    if (tfjsNodeInstalled || realGpu) {
      expect(['tensorflow', 'webgpu']).toContain(choice.backend);
      return;
    }
    expect(choice.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(choice.fallbacks.map((f) => f.backend)).toEqual(['tensorflow', 'webgpu']);
    expect(choice.fallbacks[0]!.reason).toBe('@tensorflow/tfjs-node-gpu is not installed; @tensorflow/tfjs-node is not installed');
    expect(choice.fallbacks[1]!.reason).toMatch(probe.ok ? /software|fallback/ : /no adapter found/);
  });

  it('picks cpu for a conv model, because wasm lacks conv backprop', async () => {
    const choice = await selectBackend('auto', { needsConvBackprop: true });
    if (tfjsNodeInstalled || realGpu) {
      expect(['tensorflow', 'webgpu']).toContain(choice.backend);
      return;
    }
    expect(choice.backend).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(choice.fallbacks.map((f) => f.backend)).toEqual(['tensorflow', 'webgpu', 'wasm']);
    expect(choice.fallbacks[2]!.reason).toBe('wasm cannot train conv models (missing Conv2DBackpropFilter); use cpu or webgpu');
  });
});
