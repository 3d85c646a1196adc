import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { validateRunConfig } from '../../../core/config/run-config.ts';
import { loadDataset } from '../../../core/data/dataset-spec.ts';
import { parseModelSpec } from '../../../core/models/model-spec.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';
import { RunModel, EVAL_BATCH_SIZE } from '../../../coordinator/run/run-model.ts';
import { EvaluationThread } from '../../../coordinator/run/eval-thread.ts';
import { setupWasm } from '../../../worker-node/backend/setup-wasm.ts';

beforeAll(async () => {
  // The in-thread reference runs on the backend the coordinator uses (it registers only cpu).
  await tf.setBackend('cpu');
});

/** Deterministic pseudo-random params in [-scale, scale) (no tf RNG involved). */
function randomParams(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 31 - 1) * scale;
  });
}

async function openModel(over: Record<string, unknown> = {}): Promise<RunModel> {
  const config = validateRunConfig({
    name: 'eval-thread',
    seed: 3,
    model: { type: 'mlp', hidden: [16] },
    // 1,234 test samples: two batches of 500 and a partial one.
    dataset: { name: 'synthetic', shape: [12], classes: 4, train_size: 64, test_size: 1234, seed: 2 },
    optimizer: { name: 'sgd', lr: 0.1 },
    batch_size: 8,
    total_updates: 1,
    ...over,
  });
  return RunModel.open(config);
}

// One thread per model (each start builds the model in a fresh isolate): shared by the tests.
let mlp: RunModel;
let cnn: RunModel;
beforeAll(async () => {
  [mlp, cnn] = await Promise.all([
    openModel(),
    openModel({
      model: { type: 'cnn', conv: [{ filters: 3, kernel_size: 3 }], dense: [8] },
      dataset: { name: 'synthetic', shape: [8, 8, 1], classes: 3, train_size: 32, test_size: 700, seed: 4 },
    }),
  ]);
});
afterAll(async () => {
  await Promise.all([mlp?.close(), cnn?.close()]);
});

describe('evaluation in a worker thread', () => {
  it.each(['mlp', 'cnn'])('gives bitwise the loss, accuracy and confusion matrix of the in-thread evaluation (%s)', async (name) => {
    const model = name === 'mlp' ? mlp : cnn;
    expect(await model.evaluationThreadReady()).toEqual({ backend: 'cpu' });
    const cases = [model.initialParams(), randomParams(model.paramCount, 1, 0.3), randomParams(model.paramCount, 2, 3)];
    const k = name === 'mlp' ? 4 : 3;
    const size = name === 'mlp' ? 1234 : 700;
    for (const params of cases) {
      const reference = model.evaluate(params);
      const offThread = await model.evaluateOffThread(params);
      expect(Object.is(offThread.loss, reference.loss)).toBe(true);
      expect(Object.is(offThread.accuracy, reference.accuracy)).toBe(true);
      expect(offThread.confusion).toEqual(reference.confusion);
      expect(offThread).toEqual(reference);
      // A K × K matrix of counts over the whole split, whose trace gives the accuracy.
      expect(reference.confusion.map((row) => row.length)).toEqual(new Array<number>(k).fill(k));
      expect(reference.confusion.flat().reduce((a, v) => a + v, 0)).toBe(size);
      expect(reference.confusion.reduce((a, row, t) => a + row[t]!, 0) / size).toBe(reference.accuracy);
    }
    expect(model.classNames).toEqual(Array.from({ length: k }, (_, i) => String(i)));
    // Both splits (1,234 and 700 samples) take several forward passes.
    expect(EVAL_BATCH_SIZE).toBeLessThan(700);
  });

  it('copies the params at the call: changing them afterwards changes nothing, and results come in call order', async () => {
    const model = mlp;
    const a = randomParams(model.paramCount, 5, 0.5);
    const b = randomParams(model.paramCount, 6, 0.5);
    const expected = [model.evaluate(a), model.evaluate(b)];
    const live = a.slice();
    const first = model.evaluateOffThread(live);
    live.set(b); // the session's params move on while the thread works
    const second = model.evaluateOffThread(live);
    live.fill(0);
    const order: number[] = [];
    const results = await Promise.all([first.then((r) => (order.push(1), r)), second.then((r) => (order.push(2), r))]);
    expect(results).toEqual(expected);
    expect(order).toEqual([1, 2]);
  });

  it('reports a diverged model as it is (NaN loss), like the in-thread evaluation', async () => {
    const model = mlp;
    const params = new Float32Array(model.paramCount).fill(Number.NaN);
    const reference = model.evaluate(params);
    const offThread = await model.evaluateOffThread(params);
    expect(Number.isNaN(reference.loss)).toBe(true);
    expect(Number.isNaN(offThread.loss)).toBe(true);
    expect(offThread.accuracy).toBe(reference.accuracy);
    expect(offThread.confusion).toEqual(reference.confusion);
  });

  it('ends the thread on close: pending and later evaluations reject, naming the run', async () => {
    const model = cnn;
    const params = model.initialParams();
    await model.evaluateOffThread(params); // the thread is up
    const pending = model.evaluateOffThread(params);
    await model.close();
    await expect(pending).rejects.toThrow(/evaluation thread of run eval-thread was closed/);
    await expect(model.evaluateOffThread(params)).rejects.toThrow(/was closed/);
    // The in-thread model is released too.
    expect(() => model.evaluate(params)).toThrow(/after dispose/);
  });

  it('refuses params of the wrong length with SHAPE_MISMATCH', async () => {
    const model = mlp;
    const err: unknown = await model.evaluateOffThread(new Float32Array(3)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrowdtrainError);
    expect((err as CrowdtrainError).code).toBe('SHAPE_MISMATCH');
    expect((err as Error).message).toContain(`got 3 parameters, the model has ${model.paramCount}`);
  });

  it('a thread that cannot build the model fails the first evaluation with the reason, and ends', async () => {
    const { test } = await loadDataset({ name: 'synthetic', shape: [12], classes: 4, train_size: 8, test_size: 10, seed: 2 });
    const thread = EvaluationThread.start({ runName: 'wrong-size', model: parseModelSpec({ type: 'mlp', hidden: [16] }), seed: 1, backend: 'cpu', paramCount: 7, batchSize: 500, test });
    const err: unknown = await thread.evaluate(new Float32Array(7)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrowdtrainError);
    expect((err as Error).message).toMatch(/evaluation thread of run wrong-size failed: the evaluation model of run wrong-size has \d+ parameters, the coordinator's has 7/);
    await thread.exited;
  });
});

describe('evaluation in a worker thread on wasm (the backend `npm start` evaluates on)', () => {
  it('sets up the coordinator thread\'s backend and gives bitwise its results (CNN)', async () => {
    const attempt = await setupWasm([]);
    expect(attempt).toMatchObject({ ok: true });
    let model: RunModel | null = null;
    try {
      expect(tf.getBackend()).toBe('wasm');
      model = await openModel({
        model: { type: 'cnn', conv: [{ filters: 3, kernel_size: 3 }], dense: [8] },
        dataset: { name: 'synthetic', shape: [8, 8, 1], classes: 3, train_size: 32, test_size: 700, seed: 4 },
      });
      expect(await model.evaluationThreadReady()).toEqual({ backend: 'wasm' });
      for (const params of [model.initialParams(), randomParams(model.paramCount, 9, 0.4)]) {
        const reference = model.evaluate(params);
        const offThread = await model.evaluateOffThread(params);
        expect(Object.is(offThread.loss, reference.loss)).toBe(true);
        expect(Object.is(offThread.accuracy, reference.accuracy)).toBe(true);
        expect(offThread.confusion).toEqual(reference.confusion);
        // wasm's bincount counts every test sample once, and its trace gives the accuracy.
        expect(reference.confusion.flat().reduce((a, v) => a + v, 0)).toBe(700);
        expect(reference.confusion.reduce((a, row, t) => a + row[t]!, 0) / 700).toBe(reference.accuracy);
      }
    } finally {
      await model?.close();
      await tf.setBackend('cpu');
    }
  });
});
