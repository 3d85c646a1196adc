import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { CrowdtrainError } from '../protocol/errors.ts';

/** One trainable tensor's place in the flat parameter vector. */
export interface ParamEntry {
  /** Scoped weight name, e.g. `conv_0/kernel` (stable across processes, unlike tfjs unique names). */
  name: string;
  shape: number[];
  /** Index of the first value in the flat vector. */
  offset: number;
  /** Number of values (product of shape). */
  size: number;
}

/** The flat parameter vector's table of contents: entries in order, contiguous, no gaps. */
export interface ParamLayout {
  entries: ParamEntry[];
  totalSize: number;
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * The layout of a model's trainable weights, in the model's own weight order
 * (layer order, then kernel before bias) — identical for identical specs.
 * @example const layout = layoutOfModel(model); // layout.totalSize === model.countParams()
 */
export function layoutOfModel(model: tfl.LayersModel): ParamLayout {
  const entries: ParamEntry[] = [];
  let offset = 0;
  for (const w of model.trainableWeights) {
    const shape = w.shape.map((d) => {
      if (d === null) throw new CrowdtrainError('SHAPE_MISMATCH', `weight ${w.originalName} has an unknown dimension`);
      return d;
    });
    const size = sizeOf(shape);
    entries.push({ name: w.originalName, shape, offset, size });
    offset += size;
  }
  return { entries, totalSize: offset };
}

/**
 * Why two layouts differ, naming the first differing entry; null when they are equal.
 * @example describeLayoutMismatch(a, b) // "entry 2: conv_1/kernel [5,5,8,16] vs conv_1/kernel [3,3,8,16]"
 */
export function describeLayoutMismatch(a: ParamLayout, b: ParamLayout): string | null {
  const n = Math.max(a.entries.length, b.entries.length);
  const fmt = (e: ParamEntry | undefined): string =>
    e === undefined ? '(missing)' : `${e.name} [${e.shape.join(',')}] @${e.offset}`;
  for (let i = 0; i < n; i++) {
    const ea = a.entries[i];
    const eb = b.entries[i];
    if (
      ea === undefined ||
      eb === undefined ||
      ea.name !== eb.name ||
      ea.offset !== eb.offset ||
      ea.size !== eb.size ||
      ea.shape.length !== eb.shape.length ||
      ea.shape.some((d, j) => d !== eb.shape[j])
    ) {
      return `entry ${i}: ${fmt(ea)} vs ${fmt(eb)}`;
    }
  }
  if (a.totalSize !== b.totalSize) return `total size ${a.totalSize} vs ${b.totalSize}`;
  return null;
}

/**
 * True when both layouts have the same entries (names, shapes, offsets) and total size.
 * @example if (!layoutsEqual(mine, theirs)) throw ...
 */
export function layoutsEqual(a: ParamLayout, b: ParamLayout): boolean {
  return describeLayoutMismatch(a, b) === null;
}

function checkModelMatches(model: tfl.LayersModel, layout: ParamLayout): tfl.LayersModel['trainableWeights'] {
  const weights = model.trainableWeights;
  const mismatch = describeLayoutMismatch(layoutOfModel(model), layout);
  if (mismatch !== null) {
    throw new CrowdtrainError('SHAPE_MISMATCH', `model does not match the parameter layout: ${mismatch}`);
  }
  return weights;
}

/**
 * Copies the model's trainable weights into a new flat Float32Array in layout order.
 * @example const flat = flattenWeights(model, layoutOfModel(model));
 */
export function flattenWeights(model: tfl.LayersModel, layout: ParamLayout): Float32Array {
  const weights = checkModelMatches(model, layout);
  const flat = new Float32Array(layout.totalSize);
  weights.forEach((w, i) => {
    const entry = layout.entries[i];
    if (entry === undefined) return;
    // read() returns the live variable: no new tensor, nothing to dispose.
    flat.set(w.read().dataSync(), entry.offset);
  });
  return flat;
}

/**
 * Overwrites the model's trainable weights from a flat vector in layout order. The values are
 * copied, so the caller may keep mutating `flat`. Throws SHAPE_MISMATCH on a wrong length.
 * @example assignFlatWeights(model, layout, paramsFromCoordinator);
 */
export function assignFlatWeights(model: tfl.LayersModel, layout: ParamLayout, flat: Float32Array): void {
  if (flat.length !== layout.totalSize) {
    throw new CrowdtrainError('SHAPE_MISMATCH', `params have ${flat.length} values, expected ${layout.totalSize}`);
  }
  const weights = checkModelMatches(model, layout);
  weights.forEach((w, i) => {
    const entry = layout.entries[i];
    if (entry === undefined) return;
    const value = tf.tensor(flat.slice(entry.offset, entry.offset + entry.size), entry.shape, 'float32');
    // LayerVariable.write -> Variable.assign takes over the tensor's data; dispose our handle.
    w.write(value);
    value.dispose();
  });
}
