import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {
  assignFlatWeights,
  describeLayoutMismatch,
  flattenWeights,
  layoutOfModel,
  layoutsEqual,
} from '../../../core/codec/param-layout.ts';
import type { ParamLayout } from '../../../core/codec/param-layout.ts';
import { buildModel, parseModelSpec } from '../../../core/models/model-spec.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const cnnSpec = parseModelSpec({ type: 'cnn', conv: [{ filters: 2, kernel_size: 3 }], pool: 2, dense: [5] });
const info = { inputShape: [8, 8, 1], numClasses: 3, seed: 11 };

describe('layoutOfModel', () => {
  it('lists trainable weights in order with contiguous offsets and stable scoped names', () => {
    const model = buildModel(cnnSpec, info);
    const layout = layoutOfModel(model);
    // conv 3x3x1x2 -> 6x6 -> pool 3x3x2 = 18 features -> dense 5 -> logits 3
    expect(layout.entries).toEqual([
      { name: 'conv_0/kernel', shape: [3, 3, 1, 2], offset: 0, size: 18 },
      { name: 'conv_0/bias', shape: [2], offset: 18, size: 2 },
      { name: 'dense_0/kernel', shape: [18, 5], offset: 20, size: 90 },
      { name: 'dense_0/bias', shape: [5], offset: 110, size: 5 },
      { name: 'logits/kernel', shape: [5, 3], offset: 115, size: 15 },
      { name: 'logits/bias', shape: [3], offset: 130, size: 3 },
    ]);
    expect(layout.totalSize).toBe(model.countParams());
    model.dispose();
  });

  it('is equal for two models of the same spec in one process (tfjs unique names differ)', () => {
    const a = buildModel(cnnSpec, info);
    const b = buildModel(cnnSpec, { ...info, seed: 99 });
    expect(a.trainableWeights[0]?.name).not.toBe(b.trainableWeights[0]?.name);
    expect(layoutsEqual(layoutOfModel(a), layoutOfModel(b))).toBe(true);
    a.dispose();
    b.dispose();
  });
});

describe('describeLayoutMismatch', () => {
  const base: ParamLayout = {
    entries: [
      { name: 'a/kernel', shape: [2, 3], offset: 0, size: 6 },
      { name: 'a/bias', shape: [3], offset: 6, size: 3 },
    ],
    totalSize: 9,
  };

  it('returns null for equal layouts', () => {
    expect(describeLayoutMismatch(base, structuredClone(base))).toBeNull();
  });

  it('names the first differing entry (shape, name, missing)', () => {
    const reshaped = structuredClone(base);
    reshaped.entries[0] = { name: 'a/kernel', shape: [3, 2], offset: 0, size: 6 };
    expect(describeLayoutMismatch(base, reshaped)).toBe('entry 0: a/kernel [2,3] @0 vs a/kernel [3,2] @0');
    expect(layoutsEqual(base, reshaped)).toBe(false);

    const renamed = structuredClone(base);
    renamed.entries[1] = { name: 'b/bias', shape: [3], offset: 6, size: 3 };
    expect(describeLayoutMismatch(base, renamed)).toContain('entry 1: a/bias');

    const shorter: ParamLayout = { entries: base.entries.slice(0, 1), totalSize: 6 };
    expect(describeLayoutMismatch(base, shorter)).toBe('entry 1: a/bias [3] @6 vs (missing)');
  });
});

describe('flattenWeights / assignFlatWeights', () => {
  it('round-trips, copies the input, and leaks no tensors', () => {
    const model = buildModel(cnnSpec, info);
    const layout = layoutOfModel(model);
    const flat = Float32Array.from({ length: layout.totalSize }, (_, i) => i * 0.5 - 3);
    const before = tf.memory().numTensors;
    assignFlatWeights(model, layout, flat);
    const back = flattenWeights(model, layout);
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(back)).toEqual(Array.from(flat));
    // each entry lands in its own weight
    const biasEntry = layout.entries[1];
    expect(Array.from(model.trainableWeights[1]?.read().dataSync() ?? [])).toEqual(
      Array.from(flat.subarray(biasEntry?.offset, (biasEntry?.offset ?? 0) + (biasEntry?.size ?? 0))),
    );
    flat[0] = 12345;
    expect(flattenWeights(model, layout)[0]).toBe(-3);
    model.dispose();
  });

  it('rejects a wrong length with SHAPE_MISMATCH naming both counts', () => {
    const model = buildModel(cnnSpec, info);
    const layout = layoutOfModel(model);
    let err: unknown;
    try {
      assignFlatWeights(model, layout, new Float32Array(layout.totalSize - 1));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CrowdtrainError);
    expect((err as CrowdtrainError).code).toBe('SHAPE_MISMATCH');
    expect((err as CrowdtrainError).message).toBe(`params have ${layout.totalSize - 1} values, expected ${layout.totalSize}`);
    model.dispose();
  });

  it('rejects a layout of another model', () => {
    const model = buildModel(cnnSpec, info);
    const other = buildModel(parseModelSpec({ type: 'mlp', hidden: [4] }), { inputShape: [64], numClasses: 3, seed: 1 });
    const otherLayout = layoutOfModel(other);
    expect(() => flattenWeights(model, otherLayout)).toThrow(/does not match the parameter layout: entry 0/);
    expect(() => assignFlatWeights(model, otherLayout, new Float32Array(otherLayout.totalSize))).toThrow(CrowdtrainError);
    model.dispose();
    other.dispose();
  });
});
