import * as tf from '@tensorflow/tfjs-core';
import { CrowdtrainError } from '../protocol/errors.ts';

/**
 * An in-memory classification data set: row-major features (one row of prod(inputShape)
 * float32 values per sample; pixels in [0, 1] for images) and one class id per sample.
 * Treat as read-only: loaders memoise and share instances.
 */
export interface Dataset {
  name: string;
  size: number;
  inputShape: number[];
  numClasses: number;
  /** size * prod(inputShape) values, sample i at [i * prod(inputShape), (i + 1) * prod(inputShape)). */
  features: Float32Array;
  /** size class ids, each < numClasses. */
  labels: Uint8Array;
}

/** Number of feature values per sample: the product of the input shape. */
export function sampleLength(inputShape: readonly number[]): number {
  return inputShape.reduce((a, b) => a * b, 1);
}

/**
 * Checks that a data set's fields agree with each other (lengths, shape, label range) and throws
 * CrowdtrainError('INVALID_MESSAGE') naming the first disagreement.
 * @example assertDataset(ds);
 */
export function assertDataset(ds: Dataset): void {
  const where = `dataset ${JSON.stringify(ds.name)}`;
  if (!Number.isSafeInteger(ds.size) || ds.size < 0) {
    throw new CrowdtrainError('INVALID_MESSAGE', `${where} has size ${ds.size}, expected a non-negative integer`);
  }
  if (ds.inputShape.length === 0 || ds.inputShape.some((d) => !Number.isSafeInteger(d) || d < 1)) {
    throw new CrowdtrainError('INVALID_MESSAGE', `${where} has input shape [${ds.inputShape.join(', ')}], expected positive integer dims`);
  }
  if (!Number.isSafeInteger(ds.numClasses) || ds.numClasses < 1 || ds.numClasses > 256) {
    throw new CrowdtrainError('INVALID_MESSAGE', `${where} has ${ds.numClasses} classes, expected 1..256`);
  }
  const expected = ds.size * sampleLength(ds.inputShape);
  if (ds.features.length !== expected) {
    throw new CrowdtrainError('INVALID_MESSAGE', `${where} has ${ds.features.length} feature values, expected ${expected} (${ds.size} x [${ds.inputShape.join(', ')}])`);
  }
  if (ds.labels.length !== ds.size) {
    throw new CrowdtrainError('INVALID_MESSAGE', `${where} has ${ds.labels.length} labels, expected ${ds.size}`);
  }
  for (let i = 0; i < ds.labels.length; i++) {
    const label = ds.labels[i]!;
    if (label >= ds.numClasses) {
      throw new CrowdtrainError('INVALID_MESSAGE', `${where} sample ${i} has label ${label}, expected < ${ds.numClasses}`);
    }
  }
}

/**
 * A view of the first `count` samples of a data set (no copy).
 * @example const small = datasetHead(train, 1000, 'mnist-train-1000');
 */
export function datasetHead(ds: Dataset, count: number, name = ds.name): Dataset {
  if (!Number.isSafeInteger(count) || count < 0 || count > ds.size) {
    throw new CrowdtrainError('INVALID_CONFIG', `cannot take ${count} samples of dataset ${JSON.stringify(ds.name)} of size ${ds.size}`);
  }
  const len = sampleLength(ds.inputShape);
  return {
    name,
    size: count,
    inputShape: [...ds.inputShape],
    numClasses: ds.numClasses,
    features: ds.features.subarray(0, count * len),
    labels: ds.labels.subarray(0, count),
  };
}

/**
 * Gathers the samples at `indices` into a batch: xs float32 [n, ...inputShape] and one-hot ys
 * float32 [n, numClasses]. The caller owns (and must dispose) both tensors. Throws
 * CrowdtrainError('INVALID_MESSAGE') naming the first index that is not an integer in [0, size).
 * @example const { xs, ys } = datasetBatch(train, [4, 8, 15]); try { ... } finally { xs.dispose(); ys.dispose(); }
 */
export function datasetBatch(ds: Dataset, indices: ArrayLike<number>): { xs: tf.Tensor; ys: tf.Tensor } {
  const n = indices.length;
  const len = sampleLength(ds.inputShape);
  const x = new Float32Array(n * len);
  const y = new Float32Array(n * ds.numClasses);
  for (let k = 0; k < n; k++) {
    const i = indices[k]!;
    if (!Number.isInteger(i) || i < 0 || i >= ds.size) {
      throw new CrowdtrainError('INVALID_MESSAGE', `batch index ${i} at position ${k} is out of range for dataset ${JSON.stringify(ds.name)} of size ${ds.size}`);
    }
    x.set(ds.features.subarray(i * len, (i + 1) * len), k * len);
    y[k * ds.numClasses + ds.labels[i]!] = 1;
  }
  const xs = tf.tensor(x, [n, ...ds.inputShape], 'float32');
  const ys = tf.tensor2d(y, [n, ds.numClasses], 'float32');
  return { xs, ys };
}

// ---- binary encoding -------------------------------------------------------------------------

const MAGIC = 0x53445443; // "CTDS" read as little-endian uint32
const FORMAT_VERSION = 1;
const ENCODING_FLOAT32 = 0;
const ENCODING_UINT8 = 1; // value = byte / 255
const FIXED_HEADER_BYTES = 20;
const MAX_NAME_BYTES = 1024;
const MAX_RANK = 16;

/** How encodeDataset stores features: lossless auto-pick, always float32, or always 8-bit pixels (lossy unless values are k/255). */
export type FeatureEncoding = 'auto' | 'float32' | 'uint8';

const PIXEL_VALUES = (() => {
  const t = new Float32Array(256);
  for (let p = 0; p < 256; p++) t[p] = p / 255;
  return t;
})();

function isExactPixels(features: Float32Array): boolean {
  for (let i = 0; i < features.length; i++) {
    const v = features[i]!;
    if (!(v >= 0 && v <= 1)) return false;
    if (PIXEL_VALUES[Math.round(v * 255)] !== v) return false;
  }
  return true;
}

/**
 * Serialises a data set into one compact little-endian buffer: a header (magic "CTDS", version,
 * feature encoding, shape, size, classes, name), the features (float32, or one byte per value
 * meaning byte/255 when every value is exactly such a pixel, or when forced) and the labels.
 * MNIST encodes at 1 byte per pixel with no loss.
 * @example const bytes = encodeDataset(train); const same = decodeDataset(bytes);
 */
export function encodeDataset(ds: Dataset, encoding: FeatureEncoding = 'auto'): Uint8Array {
  assertDataset(ds);
  const nameBytes = new TextEncoder().encode(ds.name);
  if (nameBytes.length > MAX_NAME_BYTES) {
    throw new CrowdtrainError('INVALID_MESSAGE', `dataset name is ${nameBytes.length} bytes, at most ${MAX_NAME_BYTES} allowed`);
  }
  if (ds.inputShape.length > MAX_RANK) {
    throw new CrowdtrainError('INVALID_MESSAGE', `dataset input shape has rank ${ds.inputShape.length}, at most ${MAX_RANK} allowed`);
  }
  const useUint8 = encoding === 'uint8' || (encoding === 'auto' && isExactPixels(ds.features));
  const headerRaw = FIXED_HEADER_BYTES + 4 * ds.inputShape.length + nameBytes.length;
  const header = Math.ceil(headerRaw / 4) * 4; // keeps float32 features 4-byte aligned
  const featureBytes = ds.features.length * (useUint8 ? 1 : 4);
  const out = new Uint8Array(header + featureBytes + ds.size);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint8(4, FORMAT_VERSION);
  view.setUint8(5, useUint8 ? ENCODING_UINT8 : ENCODING_FLOAT32);
  view.setUint8(6, ds.inputShape.length);
  view.setUint8(7, 0);
  view.setUint32(8, ds.size, true);
  view.setUint32(12, ds.numClasses, true);
  view.setUint32(16, nameBytes.length, true);
  ds.inputShape.forEach((d, k) => view.setUint32(FIXED_HEADER_BYTES + 4 * k, d, true));
  out.set(nameBytes, FIXED_HEADER_BYTES + 4 * ds.inputShape.length);
  if (useUint8) {
    const px = out.subarray(header, header + featureBytes);
    for (let i = 0; i < ds.features.length; i++) {
      const v = ds.features[i]!;
      px[i] = v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255); // NaN -> 0
    }
  } else {
    for (let i = 0; i < ds.features.length; i++) view.setFloat32(header + 4 * i, ds.features[i]!, true);
  }
  out.set(ds.labels, header + featureBytes);
  return out;
}

/**
 * Parses a buffer written by {@link encodeDataset}, validating magic, version, lengths, label
 * range and finiteness; throws CrowdtrainError('INVALID_MESSAGE') naming what is wrong.
 * The result owns fresh arrays (it does not alias `bytes`).
 * @example const ds = decodeDataset(new Uint8Array(await blob.arrayBuffer()));
 */
export function decodeDataset(bytes: Uint8Array): Dataset {
  const fail = (msg: string): never => {
    throw new CrowdtrainError('INVALID_MESSAGE', `dataset bytes: ${msg}`);
  };
  if (bytes.length < FIXED_HEADER_BYTES) fail(`${bytes.length} bytes is shorter than the ${FIXED_HEADER_BYTES}-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, true);
  if (magic !== MAGIC) fail(`magic 0x${magic.toString(16)} is not "CTDS" (0x${MAGIC.toString(16)})`);
  const version = view.getUint8(4);
  if (version !== FORMAT_VERSION) fail(`format version ${version}, expected ${FORMAT_VERSION}`);
  const encoding = view.getUint8(5);
  if (encoding !== ENCODING_FLOAT32 && encoding !== ENCODING_UINT8) fail(`unknown feature encoding ${encoding}`);
  const rank = view.getUint8(6);
  if (rank < 1 || rank > MAX_RANK) fail(`input rank ${rank}, expected 1..${MAX_RANK}`);
  const size = view.getUint32(8, true);
  const numClasses = view.getUint32(12, true);
  const nameLength = view.getUint32(16, true);
  if (nameLength > MAX_NAME_BYTES) fail(`name length ${nameLength}, at most ${MAX_NAME_BYTES} allowed`);
  const headerRaw = FIXED_HEADER_BYTES + 4 * rank + nameLength;
  const header = Math.ceil(headerRaw / 4) * 4;
  if (bytes.length < headerRaw) fail(`${bytes.length} bytes is shorter than the ${headerRaw}-byte header`);
  const inputShape: number[] = [];
  for (let k = 0; k < rank; k++) {
    const d = view.getUint32(FIXED_HEADER_BYTES + 4 * k, true);
    if (d < 1) fail(`input dim ${k} is ${d}, expected >= 1`);
    inputShape.push(d);
  }
  let name = '';
  try {
    name = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(FIXED_HEADER_BYTES + 4 * rank, headerRaw));
  } catch (cause) {
    throw new CrowdtrainError('INVALID_MESSAGE', 'dataset bytes: name is not valid UTF-8', { cause });
  }
  const values = size * sampleLength(inputShape);
  const featureBytes = values * (encoding === ENCODING_UINT8 ? 1 : 4);
  const expectedBytes = header + featureBytes + size;
  if (bytes.length !== expectedBytes) {
    fail(`${bytes.length} bytes, expected ${expectedBytes} for ${size} samples of [${inputShape.join(', ')}] (${encoding === ENCODING_UINT8 ? 'uint8' : 'float32'})`);
  }
  const features = new Float32Array(values);
  if (encoding === ENCODING_UINT8) {
    const px = bytes.subarray(header, header + featureBytes);
    for (let i = 0; i < values; i++) features[i] = PIXEL_VALUES[px[i]!]!;
  } else {
    for (let i = 0; i < values; i++) {
      const v = view.getFloat32(header + 4 * i, true);
      if (!Number.isFinite(v)) fail(`feature value ${i} is ${v}`);
      features[i] = v;
    }
  }
  const labels = bytes.slice(header + featureBytes, expectedBytes);
  const ds: Dataset = { name, size, inputShape, numClasses, features, labels };
  assertDataset(ds);
  return ds;
}
