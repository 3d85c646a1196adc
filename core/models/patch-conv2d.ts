import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { CrowdtrainError } from '../protocol/errors.ts';
import type { Activation } from './model-spec.ts';

/** Constructor arguments of {@link PatchConv2D} (a subset of tfjs-layers conv2d's). */
export interface PatchConv2DArgs {
  name: string;
  filters: number;
  kernelSize: number;
  strides: number;
  padding: 'valid' | 'same';
  activation: Activation;
  kernelInitializer: ReturnType<typeof tfl.initializers.glorotUniform>;
  inputShape?: number[];
}

/** Output size and leading pad of one spatial dimension, as TensorFlow's conv2d computes them. */
function convDim(size: number, k: number, s: number, padding: 'valid' | 'same'): { out: number; before: number; after: number } {
  if (padding === 'valid') return { out: Math.floor((size - k) / s) + 1, before: 0, after: 0 };
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + k - size, 0);
  const before = Math.floor(total / 2);
  return { out, before, after: total - before };
}

function activate(x: tf.Tensor, activation: Activation): tf.Tensor {
  switch (activation) {
    case 'relu':
      return tf.relu(x);
    case 'tanh':
      return tf.tanh(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'elu':
      return tf.elu(x);
    default: {
      const unknown: never = activation;
      throw new CrowdtrainError('INVALID_CONFIG', `unknown activation ${String(unknown)}`);
    }
  }
}

/**
 * A 2-D convolution computed as explicit patches (im2col by slicing) times the kernel matrix.
 * Numerically the same function as `tf.conv2d` with NHWC input and an [k, k, cin, filters]
 * kernel, but its weight gradient is one matMul: tfjs-backend-cpu's Conv2DBackpropFilter is a
 * naive loop (~95% of a small CNN's step time there) and tfjs-backend-wasm has none, so with
 * this layer CNNs train fast on cpu and at all on wasm. Ops used: pad, slice, reshape, concat,
 * matMul — differentiable on every backend.
 * @example model.add(new PatchConv2D({ name: 'conv_0', filters: 8, kernelSize: 5, strides: 1, padding: 'valid', activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }), inputShape: [28, 28, 1] }));
 */
export class PatchConv2D extends tfl.layers.Layer {
  /** Registered class name (for tfjs-layers serialization). */
  static readonly className = 'PatchConv2D';
  private readonly args: PatchConv2DArgs;
  private kernel: tfl.LayerVariable | undefined;
  private bias: tfl.LayerVariable | undefined;

  constructor(args: PatchConv2DArgs) {
    super(args.inputShape === undefined ? { name: args.name } : { name: args.name, inputShape: args.inputShape });
    this.args = args;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const cin = shape[3];
    if (shape.length !== 4 || cin === null || cin === undefined) {
      throw new CrowdtrainError('SHAPE_MISMATCH', `${this.name} needs NHWC input with known channels, got [${shape.join(', ')}]`);
    }
    const { kernelSize: k, filters } = this.args;
    this.kernel = this.addWeight('kernel', [k, k, cin, filters], 'float32', this.args.kernelInitializer);
    this.bias = this.addWeight('bias', [filters], 'float32', tfl.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const [n, h, w] = shape;
    const { kernelSize: k, strides: s, padding, filters } = this.args;
    const dim = (d: number | null | undefined): number | null =>
      d === null || d === undefined ? null : convDim(d, k, s, padding).out;
    return [n ?? null, dim(h), dim(w), filters];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      if (x === undefined || this.kernel === undefined || this.bias === undefined) {
        throw new CrowdtrainError('INTERNAL', `${this.name} called before build`);
      }
      const [n, h, w, cin] = x.shape as [number, number, number, number];
      const { kernelSize: k, strides: s, padding, filters } = this.args;
      const dh = convDim(h, k, s, padding);
      const dw = convDim(w, k, s, padding);
      if (dh.out <= 0 || dw.out <= 0) {
        throw new CrowdtrainError('SHAPE_MISMATCH', `${this.name}: kernel ${k} does not fit input ${h}x${w}`);
      }
      // Pad so that every strided window start dy + i*s (i < out) has s rows after it; the extra
      // rows are never read, they only let a reshape pick every s-th row.
      const padH = dh.before + dh.after + Math.max(0, (k - 1 + dh.out * s) - (h + dh.before + dh.after));
      const padW = dw.before + dw.after + Math.max(0, (k - 1 + dw.out * s) - (w + dw.before + dw.after));
      const xp =
        padH > 0 || padW > 0
          ? tf.pad(x, [[0, 0], [dh.before, padH - dh.before], [dw.before, padW - dw.before], [0, 0]])
          : x;
      const patches: tf.Tensor[] = [];
      for (let dy = 0; dy < k; dy++) {
        for (let dx = 0; dx < k; dx++) {
          let p = tf.slice(xp, [0, dy, dx, 0], [n, dh.out * s, dw.out * s, cin]);
          if (s > 1) {
            p = tf.reshape(p, [n, dh.out, s, dw.out, s, cin]);
            p = tf.slice(p, [0, 0, 0, 0, 0, 0], [n, dh.out, 1, dw.out, 1, cin]);
          }
          patches.push(tf.reshape(p, [n * dh.out * dw.out, cin]));
        }
      }
      // Column (dy*k + dx)*cin + c matches the row-major flattening of the [k, k, cin, f] kernel.
      const cols = patches.length === 1 ? (patches[0] as tf.Tensor) : tf.concat(patches, 1);
      const kernel = tf.reshape(this.kernel.read(), [k * k * cin, filters]);
      const out = tf.add(tf.matMul(cols as tf.Tensor2D, kernel as tf.Tensor2D), this.bias.read());
      return activate(tf.reshape(out, [n, dh.out, dw.out, filters]), this.args.activation);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const { name: _name, kernelInitializer: _init, inputShape: _shape, ...rest } = this.args;
    return { ...super.getConfig(), ...rest };
  }
}

tf.serialization.registerClass(PatchConv2D);
