import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import { FastConv2D } from './fast-conv2d.ts';
import {
  ChannelsLast,
  CommonLayerOptions,
  IntPairSchema,
  KerasActivationSchema,
  KerasInitializerSchema,
  nullOnly,
  BatchShapeSchema,
  type InitializerSpec,
} from './keras-options.ts';

/** A tfjs-layers layer a Keras layer is built as. */
export type BuiltLayer = tfl.layers.Layer;

/** What building one Keras layer gets from the importer (./keras-import.ts). */
export interface KerasLayerContext {
  /** The layer's name (the file's, else `<class>_<index>`). */
  name: string;
  /** `{ inputShape }` for the model's first built layer, `{}` for every other. */
  inputArgs(): { inputShape?: number[] };
  /** The initializer of a spec, seeded from the run seed and the weight's position when random. */
  initializer(spec: InitializerSpec): ReturnType<typeof tfl.initializers.glorotUniform>;
  convImplementation: 'fast' | 'native';
  /** True for the layer that outputs the logits (its softmax is dropped). */
  isLogits: boolean;
}

/** One entry of the registry: how a Keras layer's config is validated, counted and built. */
export interface KerasLayerDef {
  /** Validates the config as the model.json has it (unknown options refused by name). */
  schema: z.ZodType;
  /** Builds the layer (one or more tfjs layers) from the parsed config. */
  build(config: unknown, ctx: KerasLayerContext): BuiltLayer[];
  /** Parameters the layer adds for a sample input shape (without the batch dimension). */
  paramCount(config: unknown, inputShape: number[]): number;
  /** Rank (batch dimension included) of the input the layer needs, if fixed. */
  inputRank?: number;
  /** Output units, for layers that may produce the logits. */
  units?(config: unknown): number | undefined;
  /** The activation the layer applies (tfjs identifier), for layers that may produce the logits. */
  activation?(config: unknown): string | undefined;
  /** True when the layer is a softmax (dropped at the end of the model). */
  isSoftmax?(config: unknown): boolean;
}

const weightLimits = {
  kernel_regularizer: nullOnly('regularizers; use the optimizer weight_decay'),
  bias_regularizer: nullOnly('regularizers; use the optimizer weight_decay'),
  activity_regularizer: nullOnly('regularizers'),
  kernel_constraint: nullOnly('constraints'),
  bias_constraint: nullOnly('constraints'),
};
const GLOROT_UNIFORM: InitializerSpec = { kind: 'variance_scaling', scale: 1, mode: 'fanAvg', distribution: 'uniform' };
const ZEROS: InitializerSpec = { kind: 'constant', value: 0 };
const initializers = {
  kernel_initializer: KerasInitializerSchema.optional(),
  bias_initializer: KerasInitializerSchema.optional(),
};

/** Activations FastConv2D computes itself; others follow it as an Activation layer. */
const FAST_CONV_ACTIVATIONS = new Set(['linear', 'relu', 'tanh', 'sigmoid', 'elu']);

const DenseSchema = z.strictObject({
  ...CommonLayerOptions,
  ...initializers,
  ...weightLimits,
  units: z.int().positive(),
  activation: KerasActivationSchema.default('linear'),
  use_bias: z.boolean().default(true),
});
type DenseConfig = z.infer<typeof DenseSchema>;

const Conv2DSchema = z.strictObject({
  ...CommonLayerOptions,
  ...initializers,
  ...weightLimits,
  filters: z.int().positive(),
  kernel_size: IntPairSchema.refine(([a, b]) => a === b, { error: (i) => `kernel_size [${(i.input as number[]).join(', ')}] is not square (only square kernels are supported)` }),
  strides: IntPairSchema.refine(([a, b]) => a === b, { error: (i) => `strides [${(i.input as number[]).join(', ')}] are not equal` }).default([1, 1]),
  padding: z.enum(['valid', 'same'], { error: 'padding must be valid or same' }).default('valid'),
  activation: KerasActivationSchema.default('linear'),
  use_bias: z.literal(true, { error: 'a Conv2D without bias is not supported (use_bias must be true)' }).default(true),
  data_format: ChannelsLast,
  dilation_rate: IntPairSchema.refine(([a, b]) => a === 1 && b === 1, { error: 'dilation_rate other than 1 is not supported' }).optional(),
  groups: z.literal(1, { error: 'grouped convolutions are not supported (groups must be 1)' }).optional(),
});
type Conv2DConfig = z.infer<typeof Conv2DSchema>;

const PoolSchema = z.strictObject({
  ...CommonLayerOptions,
  pool_size: IntPairSchema.default([2, 2]),
  strides: IntPairSchema.nullable().optional(),
  padding: z.enum(['valid', 'same'], { error: 'padding must be valid or same' }).default('valid'),
  data_format: ChannelsLast,
});
type PoolConfig = z.infer<typeof PoolSchema>;

const FlattenSchema = z.strictObject({ ...CommonLayerOptions, data_format: ChannelsLast });
const DropoutSchema = z.strictObject({
  ...CommonLayerOptions,
  rate: z.number().min(0).lt(1, { error: 'rate must be in [0, 1)' }),
  noise_shape: nullOnly('a noise shape'),
  /** Accepted and not used: a fixed seed would draw the same mask at every step. */
  seed: z.int().nullable().optional(),
});
type DropoutConfig = z.infer<typeof DropoutSchema>;
const ActivationLayerSchema = z.strictObject({ ...CommonLayerOptions, activation: KerasActivationSchema });
type ActivationConfig = z.infer<typeof ActivationLayerSchema>;
const ReLUSchema = z.strictObject({
  ...CommonLayerOptions,
  max_value: z.number().positive().nullable().optional(),
  negative_slope: z.literal(0, { error: 'a leaky ReLU is not supported (negative_slope must be 0)' }).optional(),
  threshold: z.literal(0, { error: 'threshold must be 0' }).optional(),
});
type ReLUConfig = z.infer<typeof ReLUSchema>;
const SoftmaxSchema = z.strictObject({ ...CommonLayerOptions, axis: z.union([z.int(), z.array(z.int()).length(1)]).default(-1) });
type SoftmaxConfig = z.infer<typeof SoftmaxSchema>;
const ReshapeSchema = z.strictObject({
  ...CommonLayerOptions,
  target_shape: z
    .array(z.union([z.int().positive(), z.literal(-1)]))
    .min(1)
    .refine((s) => s.filter((d) => d === -1).length <= 1, { error: 'at most one -1 in target_shape' }),
});
type ReshapeConfig = z.infer<typeof ReshapeSchema>;
const InputLayerSchema = z.strictObject({
  ...CommonLayerOptions,
  input_shape: BatchShapeSchema.optional(),
  sparse: z.literal(false, { error: 'sparse inputs are not supported' }).optional(),
  ragged: z.literal(false, { error: 'ragged inputs are not supported' }).optional(),
  batch_size: z.int().positive().nullable().optional(),
});

const def = <C>(d: {
  schema: z.ZodType<C>;
  build(config: C, ctx: KerasLayerContext): BuiltLayer[];
  paramCount?(config: C, inputShape: number[]): number;
  inputRank?: number;
  units?(config: C): number | undefined;
  activation?(config: C): string | undefined;
  isSoftmax?(config: C): boolean;
}): KerasLayerDef => ({ paramCount: () => 0, ...d });

const lastDim = (shape: number[]): number => shape[shape.length - 1] ?? 0;

/**
 * The supported Keras layers, by `class_name`: one entry each (validation, parameter count, build).
 * Kernels and biases are built with the file's initializers seeded from the run seed.
 */
export const KERAS_LAYERS: Readonly<Record<string, KerasLayerDef>> = {
  InputLayer: def({ schema: InputLayerSchema, build: () => [] }),
  Dense: def<DenseConfig>({
    schema: DenseSchema,
    units: (c) => c.units,
    activation: (c) => String(c.activation),
    paramCount: (c, shape) => lastDim(shape) * c.units + (c.use_bias ? c.units : 0),
    build: (c, ctx) => [
      tfl.layers.dense({
        name: ctx.name,
        units: c.units,
        // The logits layer's softmax is dropped: training takes logits.
        activation: ctx.isLogits && c.activation === 'softmax' ? 'linear' : c.activation,
        useBias: c.use_bias,
        kernelInitializer: ctx.initializer(c.kernel_initializer ?? GLOROT_UNIFORM),
        biasInitializer: ctx.initializer(c.bias_initializer ?? ZEROS),
        ...ctx.inputArgs(),
      }),
    ],
  }),
  Conv2D: def<Conv2DConfig>({
    schema: Conv2DSchema,
    inputRank: 4,
    paramCount: (c, shape) => c.kernel_size[0] * c.kernel_size[1] * lastDim(shape) * c.filters + c.filters,
    build: (c, ctx) => {
      const fused = FAST_CONV_ACTIVATIONS.has(String(c.activation));
      const args = {
        name: ctx.name,
        filters: c.filters,
        kernelSize: c.kernel_size[0],
        strides: c.strides[0],
        padding: c.padding,
        activation: (fused ? c.activation : 'linear') as 'linear',
        kernelInitializer: ctx.initializer(c.kernel_initializer ?? GLOROT_UNIFORM),
        biasInitializer: ctx.initializer(c.bias_initializer ?? ZEROS),
        ...ctx.inputArgs(),
      };
      const conv = ctx.convImplementation === 'fast' ? new FastConv2D(args) : tfl.layers.conv2d(args);
      return fused ? [conv] : [conv, tfl.layers.activation({ name: `${ctx.name}_activation`, activation: c.activation })];
    },
  }),
  MaxPooling2D: def<PoolConfig>({
    schema: PoolSchema,
    inputRank: 4,
    build: (c, ctx) => [tfl.layers.maxPooling2d({ name: ctx.name, poolSize: c.pool_size, strides: c.strides ?? c.pool_size, padding: c.padding, ...ctx.inputArgs() })],
  }),
  AveragePooling2D: def<PoolConfig>({
    schema: PoolSchema,
    inputRank: 4,
    build: (c, ctx) => [tfl.layers.averagePooling2d({ name: ctx.name, poolSize: c.pool_size, strides: c.strides ?? c.pool_size, padding: c.padding, ...ctx.inputArgs() })],
  }),
  Flatten: def({ schema: FlattenSchema, build: (_c, ctx) => [tfl.layers.flatten({ name: ctx.name, ...ctx.inputArgs() })] }),
  // Unseeded on purpose: a fixed seed would draw the same mask at every step.
  Dropout: def<DropoutConfig>({ schema: DropoutSchema, build: (c, ctx) => [tfl.layers.dropout({ name: ctx.name, rate: c.rate, ...ctx.inputArgs() })] }),
  Activation: def<ActivationConfig>({
    schema: ActivationLayerSchema,
    activation: (c) => String(c.activation),
    isSoftmax: (c) => c.activation === 'softmax',
    build: (c, ctx) => [tfl.layers.activation({ name: ctx.name, activation: c.activation, ...ctx.inputArgs() })],
  }),
  ReLU: def<ReLUConfig>({
    schema: ReLUSchema,
    activation: () => 'relu',
    build: (c, ctx) => [tfl.layers.reLU({ name: ctx.name, ...(c.max_value == null ? {} : { maxValue: c.max_value }), ...ctx.inputArgs() })],
  }),
  Softmax: def<SoftmaxConfig>({
    schema: SoftmaxSchema,
    isSoftmax: () => true,
    activation: () => 'softmax',
    build: (c, ctx) => [tfl.layers.softmax({ name: ctx.name, axis: Array.isArray(c.axis) ? c.axis[0]! : c.axis, ...ctx.inputArgs() })],
  }),
  Reshape: def<ReshapeConfig>({
    schema: ReshapeSchema,
    build: (c, ctx) => [tfl.layers.reshape({ name: ctx.name, targetShape: c.target_shape, ...ctx.inputArgs() })],
  }),
};

/** Keras layers refused with a reason (beyond "not supported"). */
export const REFUSED_LAYERS: Readonly<Record<string, string>> = {
  BatchNormalization:
    'its batch statistics would be computed over each worker\'s slice, not the global batch, and its moving averages are not parameters the workers share',
};
