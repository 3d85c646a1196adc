/**
 * Child-process harness for backend tests (tfjs backends are process globals, so each scenario
 * runs in its own process). Usage: `node --import tsx backend-child.ts <mode>`; prints one line
 * of JSON prefixed with RESULT: on stdout.
 *   compare    select webgpu, run matMul + conv2d forward and tf.grads there and on cpu
 *   auto       selectBackend('auto', { needsConvBackprop: false })
 *   navigator  install Dawn under a Node-21-style getter-only (optionally frozen) navigator
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-layers' Node bundle registers every op's gradient with tfjs-core.
import '@tensorflow/tfjs-layers';
import { selectBackend } from '../../../worker-node/backend/select-backend.ts';
import { installDawnGpu } from '../../../worker-node/backend/webgpu-adapter.ts';

/** Deterministic values in [-1, 1) so both backends see the same inputs. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** Forward values and gradients of a small matMul and conv2d on the current backend. */
async function computeAll(): Promise<Record<string, number[]>> {
  const a = tf.tensor2d(values(5 * 7, 1), [5, 7]);
  const b = tf.tensor2d(values(7 * 3, 2), [7, 3]);
  const x = tf.tensor4d(values(1 * 6 * 6 * 2, 3), [1, 6, 6, 2]);
  const f = tf.tensor4d(values(3 * 3 * 2 * 4, 4), [3, 3, 2, 4]);
  const outs = tf.tidy(() => {
    const mm = tf.matMul(a, b);
    const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.square(tf.matMul(p as tf.Tensor2D, q as tf.Tensor2D))))([a, b]);
    const conv = tf.conv2d(x, f, 1, 'same');
    const convValid = tf.conv2d(x, f, 2, 'valid');
    const [gx, gf] = tf.grads((p: tf.Tensor, q: tf.Tensor) =>
      tf.sum(tf.square(tf.conv2d(p as tf.Tensor4D, q as tf.Tensor4D, 1, 'same'))),
    )([x, f]);
    return { matMul: mm, matMulGradA: ga!, matMulGradB: gb!, conv2d: conv, conv2dStride2: convValid, conv2dGradX: gx!, conv2dGradFilter: gf! };
  });
  const result: Record<string, number[]> = {};
  for (const [k, t] of Object.entries(outs)) {
    result[k] = Array.from(await t.data());
    t.dispose();
  }
  tf.dispose([a, b, x, f]);
  return result;
}

async function main(mode: string | undefined): Promise<unknown> {
  switch (mode) {
    case 'compare': {
      const choice = await selectBackend('webgpu', { needsConvBackprop: true });
      const before = tf.memory().numTensors;
      const webgpu = await computeAll();
      const leaked = tf.memory().numTensors - before;
      await tf.setBackend('cpu');
      const cpu = await computeAll();
      return { choice, webgpu, cpu, leaked };
    }
    case 'auto':
      return { choice: await selectBackend('auto', { needsConvBackprop: false }) };
    case 'navigator':
    case 'navigator-frozen': {
      const nav = { userAgent: 'Node.js/21' };
      if (mode === 'navigator-frozen') Object.freeze(nav);
      Object.defineProperty(globalThis, 'navigator', { get: () => nav, configurable: true, enumerable: true });
      await installDawnGpu();
      const g = (globalThis as unknown as { navigator: { gpu?: unknown; userAgent?: string } }).navigator;
      await import('@tensorflow/tfjs-backend-webgpu');
      return {
        hasGpu: g.gpu !== undefined,
        userAgent: g.userAgent,
        webgpuRegistered: tf.findBackendFactory('webgpu') != null,
      };
    }
    default:
      throw new Error(`unknown mode ${String(mode)}; expected compare, auto, navigator or navigator-frozen`);
  }
}

main(process.argv[2]).then(
  (r) => {
    process.stdout.write(`RESULT:${JSON.stringify(r)}\n`);
    process.exit(0);
  },
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
