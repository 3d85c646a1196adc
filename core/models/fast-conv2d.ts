import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { CrowdtrainError } from '../protocol/errors.ts';
import type { Activation } from './activation.ts';

/** Constructor arguments of {@link FastConv2D} (a subset of tfjs-layers conv2d's). */
export interface FastConv2DArgs {
  name: string;
  filters: number;
  kernelSize: number;
  strides: number;
  padding: 'valid' | 'same';
  /** `linear` is no activation (the conv's output as it is). */
  activation: Activation | 'linear';
  kernelInitializer: ReturnType<typeof tfl.initializers.glorotUniform>;
  /** The bias's initializer (default zeros). */
  biasInitializer?: ReturnType<typeof tfl.initializers.glorotUniform>;
  inputShape?: number[];
}

/** Output size and pads of one spatial dimension, as TensorFlow's conv2d computes them. */
function convDim(size: number, k: number, s: number, padding: 'valid' | 'same'): { out: number; before: number; after: number } {
  if (padding === 'valid') return { out: Math.floor((size - k) / s) + 1, before: 0, after: 0 };
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + k - size, 0);
  const before = Math.floor(total / 2);
  return { out, before, after: total - before };
}

function activate(x: tf.Tensor, activation: Activation | 'linear'): tf.Tensor {
  switch (activation) {
    case 'linear':
      return x;
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
 * 'valid' NHWC conv2d whose input spans exactly the windows read ((out-1)*s + k rows/cols),
 * with a filter gradient computed as a forward conv instead of Conv2DBackpropFilter:
 * dW[a,b,ci,co] = sum_{n,i,j} x[n, a+i*s, b+j*s, ci] * dy[n,i,j,co], i.e. conv2d of x with
 * batch and channels swapped, by dy as the filter, dilated by the stride.
 */
const conv2dValidFastGrad = (stride: number): ((x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D) =>
  tf.customGrad((...args: (tf.Tensor | ((save: tf.Tensor[]) => void))[]) => {
    const [x, w, save] = args as [tf.Tensor4D, tf.Tensor4D, (saved: tf.Tensor[]) => void];
    save([x, w]);
    return {
      value: tf.conv2d(x, w, stride, 'valid'),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]): tf.Tensor[] => {
        const [sx, sw] = saved as [tf.Tensor4D, tf.Tensor4D];
        const d = dy as tf.Tensor4D;
        const dx = tf.conv2dTranspose(d, sw, sx.shape, stride, 'valid');
        const xT = tf.transpose(sx, [3, 1, 2, 0]); // [cin, H, W, n]
        const dyT = tf.transpose(d, [1, 2, 0, 3]); // [oh, ow, n, cout]
        const dwT = tf.conv2d(xT, dyT, 1, 'valid', 'NHWC', stride); // [cin, k, k, cout]
        return [dx, tf.transpose(dwT, [1, 2, 0, 3])];
      },
    };
  });

/**
 * A 2-D convolution layer, numerically the same function as tfjs-layers `conv2d` (NHWC,
 * [k, k, cin, filters] kernel, bias, activation), whose kernel gradient is computed as a
 * forward convolution. tfjs-backend-cpu's Conv2DBackpropFilter is a naive loop (~95% of a small
 * CNN's step there) and tfjs-backend-wasm has no Conv2DBackpropFilter at all: with this layer
 * CNNs train several times faster on cpu and train on wasm. Ops used: pad, slice, conv2d
 * (stride or dilation), conv2dTranspose, transpose.
 * @example model.add(new FastConv2D({ name: 'conv_0', filters: 8, kernelSize: 5, strides: 1, padding: 'valid', activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }), inputShape: [28, 28, 1] }));
 */
export class FastConv2D extends tfl.layers.Layer {
  /** Registered class name (for tfjs-layers serialization). */
  static readonly className = 'FastConv2D';
  private readonly args: FastConv2DArgs;
  private readonly conv: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D;
  private kernel: tfl.LayerVariable | undefined;
  private bias: tfl.LayerVariable | undefined;

  constructor(args: FastConv2DArgs) {
    super(args.inputShape === undefined ? { name: args.name } : { name: args.name, inputShape: args.inputShape });
    this.args = args;
    this.conv = conv2dValidFastGrad(args.strides);
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const cin = shape[3];
    if (shape.length !== 4 || cin === null || cin === undefined) {
      throw new CrowdtrainError('SHAPE_MISMATCH', `${this.name} needs NHWC input with known channels, got [${shape.join(', ')}]`);
    }
    const { kernelSize: k, filters } = this.args;
    this.kernel = this.addWeight('kernel', [k, k, cin, filters], 'float32', this.args.kernelInitializer);
    this.bias = this.addWeight('bias', [filters], 'float32', this.args.biasInitializer ?? tfl.initializers.zeros());
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
      const { kernelSize: k, strides: s, padding } = this.args;
      const dh = convDim(h, k, s, padding);
      const dw = convDim(w, k, s, padding);
      if (dh.out <= 0 || dw.out <= 0) {
        throw new CrowdtrainError('SHAPE_MISMATCH', `${this.name}: kernel ${k} does not fit input ${h}x${w}`);
      }
      let xv = x as tf.Tensor4D;
      if (dh.before + dh.after + dw.before + dw.after > 0) {
        xv = tf.pad(xv, [[0, 0], [dh.before, dh.after], [dw.before, dw.after], [0, 0]]);
      }
      // Crop rows/cols no window reads, so the filter-gradient conv yields exactly k x k.
      const spanH = (dh.out - 1) * s + k;
      const spanW = (dw.out - 1) * s + k;
      if (xv.shape[1] !== spanH || xv.shape[2] !== spanW) xv = tf.slice(xv, [0, 0, 0, 0], [n, spanH, spanW, cin]);
      const y = tf.add(this.conv(xv, this.kernel.read() as tf.Tensor4D), this.bias.read());
      return activate(y, this.args.activation);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const { filters, kernelSize, strides, padding, activation } = this.args;
    return { ...super.getConfig(), filters, kernelSize, strides, padding, activation };
  }
}

tf.serialization.registerClass(FastConv2D);
