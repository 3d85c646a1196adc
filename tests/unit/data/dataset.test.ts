import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { type Dataset, assertDataset, datasetBatch, datasetHead, decodeDataset, encodeDataset } from '../../../core/data/dataset.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';

function tiny(): Dataset {
  return {
    name: 'tiny',
    size: 3,
    inputShape: [2, 2],
    numClasses: 3,
    features: Float32Array.from([0, 0.1, 0.2, 0.3, 1, 1.1, 1.2, 1.3, -2, -2.1, -2.2, 5]),
    labels: Uint8Array.from([2, 0, 1]),
  };
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('datasetBatch', () => {
  it('gathers samples in index order with one-hot labels', () => {
    const before = tf.memory().numTensors;
    const { xs, ys } = datasetBatch(tiny(), [2, 0, 2]);
    expect(xs.shape).toEqual([3, 2, 2]);
    expect(xs.dtype).toBe('float32');
    expect(ys.shape).toEqual([3, 3]);
    expect(ys.dtype).toBe('float32');
    expect(Array.from(xs.dataSync())).toEqual(Array.from(Float32Array.from([-2, -2.1, -2.2, 5, 0, 0.1, 0.2, 0.3, -2, -2.1, -2.2, 5])));
    expect(Array.from(ys.dataSync())).toEqual([0, 1, 0, 0, 0, 1, 0, 1, 0]);
    xs.dispose();
    ys.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('accepts typed-array indices', () => {
    const { xs, ys } = datasetBatch(tiny(), Uint32Array.from([1]));
    expect(xs.shape).toEqual([1, 2, 2]);
    tf.dispose([xs, ys]);
  });

  it('rejects out-of-range and non-integer indices naming them, without leaking', () => {
    const before = tf.memory().numTensors;
    for (const [bad, re] of [
      [[0, 3], /batch index 3 at position 1 is out of range for dataset "tiny" of size 3/],
      [[-1], /batch index -1 at position 0/],
      [[0.5], /batch index 0.5/],
    ] as const) {
      let err: unknown;
      try {
        datasetBatch(tiny(), bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CrowdtrainError);
      expect((err as CrowdtrainError).code).toBe('INVALID_MESSAGE');
      expect((err as Error).message).toMatch(re);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('assertDataset and datasetHead', () => {
  it('names the disagreement', () => {
    expect(() => assertDataset({ ...tiny(), labels: Uint8Array.from([2, 0, 3]) })).toThrow(/sample 2 has label 3, expected < 3/);
    expect(() => assertDataset({ ...tiny(), features: new Float32Array(11) })).toThrow(/11 feature values, expected 12/);
    expect(() => assertDataset({ ...tiny(), labels: new Uint8Array(2) })).toThrow(/2 labels, expected 3/);
    expect(() => assertDataset(tiny())).not.toThrow();
  });

  it('takes a prefix without copying', () => {
    const ds = tiny();
    const head = datasetHead(ds, 2, 'tiny-2');
    expect(head.size).toBe(2);
    expect(head.features).toHaveLength(8);
    expect(Array.from(head.labels)).toEqual([2, 0]);
    expect(head.features.buffer).toBe(ds.features.buffer);
    expect(() => datasetHead(ds, 4)).toThrow(/cannot take 4 samples/);
  });
});

describe('encodeDataset / decodeDataset', () => {
  it('round-trips float32 features exactly', () => {
    const ds = tiny();
    const bytes = encodeDataset(ds);
    const back = decodeDataset(bytes);
    expect(back).toEqual(ds);
    expect(bytes.length).toBeGreaterThan(12 * 4 + 3);
  });

  it('stores exact k/255 pixels as one byte each with no loss', () => {
    const size = 50;
    const features = new Float32Array(size * 6);
    for (let i = 0; i < features.length; i++) features[i] = ((i * 37) % 256) / 255;
    const ds: Dataset = { name: 'pixels ü', size, inputShape: [3, 2, 1], numClasses: 10, features, labels: Uint8Array.from({ length: size }, (_v, i) => i % 10) };
    const bytes = encodeDataset(ds);
    expect(bytes.length).toBeLessThan(features.length + size + 64);
    expect(decodeDataset(bytes)).toEqual(ds);
    // forced float32 is bigger and equal too
    const big = encodeDataset(ds, 'float32');
    expect(big.length).toBeGreaterThan(features.length * 4);
    expect(decodeDataset(big)).toEqual(ds);
  });

  it('forced uint8 quantises to the nearest k/255', () => {
    const ds: Dataset = { name: 'q', size: 1, inputShape: [3], numClasses: 2, features: Float32Array.from([0.5, -1, 2]), labels: Uint8Array.from([1]) };
    const back = decodeDataset(encodeDataset(ds, 'uint8'));
    expect(Array.from(back.features)).toEqual(Array.from(Float32Array.from([128 / 255, 0, 1])));
  });

  it('decodes from an unaligned view of a larger buffer', () => {
    const bytes = encodeDataset(tiny());
    const host = new Uint8Array(bytes.length + 3);
    host.set(bytes, 3);
    expect(decodeDataset(host.subarray(3))).toEqual(tiny());
  });

  it('rejects corrupt input naming the problem', () => {
    const bytes = encodeDataset(tiny());
    const cases: [Uint8Array, RegExp][] = [
      [bytes.subarray(0, 10), /shorter than the 20-byte header/],
      [bytes.subarray(0, bytes.length - 1), /expected \d+ for 3 samples of \[2, 2\]/],
      [(() => { const b = bytes.slice(); b[0] = 0; return b; })(), /magic/],
      [(() => { const b = bytes.slice(); b[4] = 9; return b; })(), /format version 9/],
      [(() => { const b = bytes.slice(); b[b.length - 1] = 7; return b; })(), /label 7, expected < 3/],
      [(() => { const b = bytes.slice(); new DataView(b.buffer).setFloat32(b.length - 3 - 4, NaN, true); return b; })(), /feature value 11 is NaN/],
    ];
    for (const [b, re] of cases) {
      expect(() => decodeDataset(b)).toThrow(re);
      expect(() => decodeDataset(b)).toThrow(CrowdtrainError);
    }
  });
});
