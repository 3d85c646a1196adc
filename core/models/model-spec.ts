import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import { CrowdtrainError } from '../protocol/errors.ts';
import { describeZodError } from '../protocol/messages.ts';
import { ActivationSchema, type Activation } from './activation.ts';
import { layerSeed, validateBuildInfo, type ModelBuildInfo } from './build-info.ts';
import { FastConv2D } from './fast-conv2d.ts';
import { buildKerasModel, KerasSpecSchema } from './keras-import.ts';

/** Re-exported for importers of the spec module: the activation names (defined in ./activation.ts, which FastConv2D shares). */
export { ActivationSchema, type Activation } from './activation.ts';
export type { ModelBuildInfo } from './build-info.ts';
export { KerasSpecSchema, MAX_KERAS_LAYERS, MAX_MODEL_PARAMS, type KerasTopology } from './keras-import.ts';

/** Multi-layer perceptron: flatten, `hidden` dense layers, then a dense logits layer. */
export const MlpSpecSchema = z.strictObject({
  type: z.literal('mlp'),
  hidden: z.array(z.int().positive()).default([128]),
  activation: ActivationSchema.default('relu'),
});

/** One convolution of a CNN spec (PyTorch-like: padding 'valid' means padding=0). */
export const ConvLayerSpecSchema = z.strictObject({
  filters: z.int().positive(),
  kernel_size: z.int().positive(),
  stride: z.int().positive().default(1),
  padding: z.enum(['valid', 'same']).default('valid'),
});

/** Convolutional net: conv(+max pool) blocks, flatten, `dense` hidden layers, dense logits. */
export const CnnSpecSchema = z.strictObject({
  type: z.literal('cnn'),
  conv: z.array(ConvLayerSpecSchema).min(1),
  /** Max-pool size (and stride) after each conv; 0 means no pooling. */
  pool: z.int().nonnegative().default(2),
  dense: z.array(z.int().positive()).default([]),
  activation: ActivationSchema.default('relu'),
});

/**
 * A model spec as written in a run config (snake_case keys, discriminated on `type`): `mlp`, `cnn`,
 * or `keras` (a Sequential topology of a tfjs / Keras model.json; ./keras-import.ts).
 * docs/models.md describes them.
 * @example ModelSpecSchema.parse({ type: 'cnn', conv: [{ filters: 8, kernel_size: 5 }] })
 */
export const ModelSpecSchema = z.discriminatedUnion('type', [MlpSpecSchema, CnnSpecSchema, KerasSpecSchema]);

/** A validated model spec with defaults filled in. */
export type ModelSpec = z.infer<typeof ModelSpecSchema>;

/** A model spec as a user may write it (defaults optional). */
export type ModelSpecInput = z.input<typeof ModelSpecSchema>;

/**
 * Validates a raw spec, throwing CrowdtrainError INVALID_CONFIG that names the offending keys.
 * @example const spec = parseModelSpec({ type: 'mlp', hidden: [64] });
 */
export function parseModelSpec(raw: unknown): ModelSpec {
  const result = ModelSpecSchema.safeParse(raw);
  if (!result.success) {
    throw new CrowdtrainError('INVALID_CONFIG', `invalid model spec: ${describeZodError(result.error)}`, { cause: result.error });
  }
  return result.data;
}

/** Image shape [h, w, c] a CNN sees for a sample shape; rank 1 must be a perfect square (1 channel). */
function imageShapeOf(inputShape: number[]): [number, number, number] {
  const [a, b, c] = inputShape;
  if (inputShape.length === 3 && a !== undefined && b !== undefined && c !== undefined) return [a, b, c];
  if (inputShape.length === 2 && a !== undefined && b !== undefined) return [a, b, 1];
  if (inputShape.length === 1 && a !== undefined) {
    const side = Math.round(Math.sqrt(a));
    if (side * side === a) return [side, side, 1];
  }
  throw new CrowdtrainError(
    'INVALID_CONFIG',
    `a cnn needs an image input [h, w, c], [h, w] or a square [h*w]; got [${inputShape.join(', ')}]`,
  );
}

/**
 * Builds the tfjs-layers model of a spec. The output layer is a dense layer of `numClasses`
 * **logits** (no softmax): pair it with {@link softmaxCrossEntropyLoss}. Layer names are fixed
 * (`conv_0`, `dense_0`, ..., `logits`) so parameter names match across workers and processes.
 * No dropout or batch norm: every worker computes exactly the same function. A `keras` spec is
 * built by {@link buildKerasModel} (the file's layer names; its Dropout layers, if any, draw
 * their own masks on each worker).
 * @example const model = buildModel(spec, { inputShape: [28, 28, 1], numClasses: 10, seed: 42 });
 */
export function buildModel(spec: ModelSpec, info: ModelBuildInfo): tfl.Sequential {
  validateBuildInfo(info);
  if (spec.type === 'keras') return buildKerasModel(spec.topology, info);
  const { inputShape, numClasses, seed } = info;
  const model = tfl.sequential();
  let seedIndex = 0;
  const kernelInit = (): ReturnType<typeof tfl.initializers.glorotUniform> =>
    tfl.initializers.glorotUniform({ seed: layerSeed(seed, seedIndex++) });
  let first = true;
  /** inputShape goes on the first layer only. */
  const shapeArg = (shape: number[]): { inputShape?: number[] } => {
    if (!first) return {};
    first = false;
    return { inputShape: shape };
  };
  /** A dense layer (glorot kernel, zero bias); `activation` undefined is linear (the logits). */
  const addDense = (name: string, units: number, activation?: Activation): void => {
    model.add(tfl.layers.dense({ name, units, activation, kernelInitializer: kernelInit(), biasInitializer: 'zeros', ...shapeArg(inputShape) }));
  };

  switch (spec.type) {
    case 'mlp': {
      if (inputShape.length > 1) model.add(tfl.layers.flatten({ name: 'flatten', ...shapeArg(inputShape) }));
      spec.hidden.forEach((units, i) => addDense(`dense_${i}`, units, spec.activation));
      break;
    }
    case 'cnn': {
      const image = imageShapeOf(inputShape);
      if (inputShape.length !== 3) {
        model.add(tfl.layers.reshape({ name: 'to_image', targetShape: image, ...shapeArg(inputShape) }));
      }
      spec.conv.forEach((conv, i) => {
        const args = {
          name: `conv_${i}`,
          filters: conv.filters,
          kernelSize: conv.kernel_size,
          strides: conv.stride,
          padding: conv.padding,
          activation: spec.activation,
          kernelInitializer: kernelInit(),
          ...shapeArg(image),
        };
        model.add(
          (info.convImplementation ?? 'fast') === 'fast'
            ? new FastConv2D(args)
            : tfl.layers.conv2d({ ...args, biasInitializer: 'zeros' }),
        );
        if (spec.pool > 0) {
          model.add(tfl.layers.maxPooling2d({ name: `pool_${i}`, poolSize: spec.pool, strides: spec.pool }));
        }
      });
      model.add(tfl.layers.flatten({ name: 'flatten' }));
      spec.dense.forEach((units, i) => addDense(`dense_${i}`, units, spec.activation));
      break;
    }
    default: {
      const unknown: never = spec;
      throw new CrowdtrainError('INVALID_CONFIG', `unknown model type ${JSON.stringify(unknown)}`);
    }
  }
  addDense('logits', numClasses);
  return model;
}

/**
 * Mean categorical cross-entropy of one-hot `labels` against `logits`, computed stably
 * (log-softmax, no explicit softmax). Usable as a tfjs-layers `loss` in `model.compile`.
 * @example const loss = softmaxCrossEntropyLoss(ysOneHot, model.apply(xs) as tf.Tensor);
 */
export function softmaxCrossEntropyLoss(labels: tf.Tensor, logits: tf.Tensor): tf.Scalar {
  return tf.losses.softmaxCrossEntropy(labels, logits);
}
