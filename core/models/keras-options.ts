import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';

/**
 * Option schemas the Keras layer registry (./keras-layers.ts) shares: activations, initializers,
 * dtypes, shapes and the keys every layer config may carry. Values are validated as Keras and
 * tfjs-layers write them in a model.json (snake_case keys and names).
 */

/** A tfjs-layers activation identifier (what `tfl.layers.dense({ activation })` takes). */
export type TfjsActivation = NonNullable<Parameters<typeof tfl.layers.activation>[0]>['activation'];

/** Keras activation names (as a model.json spells them) and the tfjs-layers activation each one is built as. */
export const KERAS_ACTIVATIONS: Readonly<Record<string, TfjsActivation>> = {
  linear: 'linear',
  relu: 'relu',
  relu6: 'relu6',
  elu: 'elu',
  selu: 'selu',
  tanh: 'tanh',
  sigmoid: 'sigmoid',
  hard_sigmoid: 'hardSigmoid',
  softplus: 'softplus',
  softsign: 'softsign',
  swish: 'swish',
  silu: 'swish',
  mish: 'mish',
  gelu: 'gelu',
  softmax: 'softmax',
};

/** A Keras activation name, validated; the output is the tfjs identifier. */
export const KerasActivationSchema = z.string().transform((name, ctx): TfjsActivation => {
  const tfjs = Object.hasOwn(KERAS_ACTIVATIONS, name) ? KERAS_ACTIVATIONS[name] : undefined;
  if (tfjs === undefined) {
    ctx.addIssue({ code: 'custom', message: `activation "${name}" is not supported; supported: ${Object.keys(KERAS_ACTIVATIONS).join(', ')}` });
    return z.NEVER;
  }
  return tfjs;
});

/**
 * How a weight is initialised, with the file's seed dropped: {@link makeInitializer} seeds every
 * random one from the run seed, so every worker draws the same numbers.
 */
export type InitializerSpec =
  | { kind: 'variance_scaling'; scale: number; mode: 'fanIn' | 'fanOut' | 'fanAvg'; distribution: 'normal' | 'uniform' }
  | { kind: 'random_uniform'; minval: number; maxval: number }
  | { kind: 'random_normal'; mean: number; stddev: number }
  | { kind: 'truncated_normal'; mean: number; stddev: number }
  | { kind: 'constant'; value: number };

const Seed = z.int().nullable().optional();
const SeedOnly = z.strictObject({ seed: Seed });
const Empty = z.strictObject({});
const Mean = z.number().default(0);
const Stddev = z.number().positive().default(0.05);

/** Keras (snake_case) and tfjs (camelCase) fan modes, as tfjs names them. */
const FAN_MODES: Readonly<Record<string, 'fanIn' | 'fanOut' | 'fanAvg'>> = { fan_in: 'fanIn', fan_out: 'fanOut', fan_avg: 'fanAvg', fanIn: 'fanIn', fanOut: 'fanOut', fanAvg: 'fanAvg' };

/** The Keras initializer classes, each with its config schema and the spec it stands for. */
const INITIALIZERS: Readonly<Record<string, { config: z.ZodType; spec: (c: never) => InitializerSpec }>> = {
  VarianceScaling: {
    config: z.strictObject({
      scale: z.number().positive().default(1),
      mode: z.enum(['fan_in', 'fan_out', 'fan_avg', 'fanIn', 'fanOut', 'fanAvg']).default('fan_in'),
      distribution: z
        .string()
        .default('truncated_normal')
        .refine((d) => ['normal', 'truncated_normal', 'uniform'].includes(d), {
          error: 'distribution must be truncated_normal (or its old name normal) or uniform; untruncated_normal is not supported',
        }),
      seed: Seed,
    }),
    spec: (c: { scale: number; mode: string; distribution: string }): InitializerSpec => ({
      kind: 'variance_scaling',
      scale: c.scale,
      mode: FAN_MODES[c.mode] ?? 'fanIn',
      distribution: c.distribution === 'uniform' ? 'uniform' : 'normal',
    }),
  },
  GlorotUniform: { config: SeedOnly, spec: () => ({ kind: 'variance_scaling', scale: 1, mode: 'fanAvg', distribution: 'uniform' }) },
  GlorotNormal: { config: SeedOnly, spec: () => ({ kind: 'variance_scaling', scale: 1, mode: 'fanAvg', distribution: 'normal' }) },
  HeUniform: { config: SeedOnly, spec: () => ({ kind: 'variance_scaling', scale: 2, mode: 'fanIn', distribution: 'uniform' }) },
  HeNormal: { config: SeedOnly, spec: () => ({ kind: 'variance_scaling', scale: 2, mode: 'fanIn', distribution: 'normal' }) },
  LecunUniform: { config: SeedOnly, spec: () => ({ kind: 'variance_scaling', scale: 1, mode: 'fanIn', distribution: 'uniform' }) },
  LecunNormal: { config: SeedOnly, spec: () => ({ kind: 'variance_scaling', scale: 1, mode: 'fanIn', distribution: 'normal' }) },
  RandomUniform: {
    config: z.strictObject({ minval: z.number().default(-0.05), maxval: z.number().default(0.05), seed: Seed }).refine((c) => c.minval < c.maxval, { error: 'minval must be below maxval' }),
    spec: (c: { minval: number; maxval: number }): InitializerSpec => ({ kind: 'random_uniform', minval: c.minval, maxval: c.maxval }),
  },
  RandomNormal: {
    config: z.strictObject({ mean: Mean, stddev: Stddev, seed: Seed }),
    spec: (c: { mean: number; stddev: number }): InitializerSpec => ({ kind: 'random_normal', mean: c.mean, stddev: c.stddev }),
  },
  TruncatedNormal: {
    config: z.strictObject({ mean: Mean, stddev: Stddev, seed: Seed }),
    spec: (c: { mean: number; stddev: number }): InitializerSpec => ({ kind: 'truncated_normal', mean: c.mean, stddev: c.stddev }),
  },
  Zeros: { config: Empty, spec: () => ({ kind: 'constant', value: 0 }) },
  Ones: { config: Empty, spec: () => ({ kind: 'constant', value: 1 }) },
  Constant: {
    config: z.strictObject({ value: z.number() }),
    spec: (c: { value: number }): InitializerSpec => ({ kind: 'constant', value: c.value }),
  },
};

/** Initializer names Keras accepts as plain strings, and their class. */
const INITIALIZER_ALIASES: Readonly<Record<string, string>> = {
  glorot_uniform: 'GlorotUniform',
  glorot_normal: 'GlorotNormal',
  he_uniform: 'HeUniform',
  he_normal: 'HeNormal',
  lecun_uniform: 'LecunUniform',
  lecun_normal: 'LecunNormal',
  random_uniform: 'RandomUniform',
  random_normal: 'RandomNormal',
  truncated_normal: 'TruncatedNormal',
  variance_scaling: 'VarianceScaling',
  zeros: 'Zeros',
  ones: 'Ones',
};

/** The serialised form of an initializer: `{class_name, config}` (Keras 3 adds `module`, `registered_name`). */
const SerializedInitializer = z.strictObject({
  class_name: z.string(),
  config: z.record(z.string(), z.unknown()).default({}),
  module: z.string().nullable().optional(),
  registered_name: z.string().nullable().optional(),
});

/**
 * A Keras initializer (`{class_name, config}` or a name such as `glorot_uniform`), validated; the
 * output is an {@link InitializerSpec}. A seed in the file is accepted and not used.
 */
export const KerasInitializerSchema = z.unknown().transform((raw, ctx): InitializerSpec => {
  const fail = (message: string): never => {
    ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  };
  const supported = `supported: ${Object.keys(INITIALIZERS).join(', ')} (or ${Object.keys(INITIALIZER_ALIASES).join(', ')})`;
  let className: string;
  let config: Record<string, unknown> = {};
  if (typeof raw === 'string') {
    className = INITIALIZER_ALIASES[raw] ?? raw;
  } else {
    const parsed = SerializedInitializer.safeParse(raw);
    if (!parsed.success) return fail(`an initializer is {class_name, config} or a name; ${supported}`);
    className = parsed.data.class_name;
    config = parsed.data.config;
  }
  const entry = Object.hasOwn(INITIALIZERS, className) ? INITIALIZERS[className] : undefined;
  if (entry === undefined) return fail(`initializer ${className} is not supported (its numbers could not be seeded alike on every worker); ${supported}`);
  const c = entry.config.safeParse(config);
  if (!c.success) return fail(`initializer ${className}: ${c.error.issues.map(describeIssue).join('; ')}`);
  return entry.spec(c.data as never);
});

/**
 * The tfjs initializer of a spec; random ones draw from `seed` (same seed, same numbers, on every
 * backend: tfjs draws initial values in JavaScript).
 * @example makeInitializer({ kind: 'variance_scaling', scale: 1, mode: 'fanAvg', distribution: 'uniform' }, 7) // glorot uniform
 */
export function makeInitializer(spec: InitializerSpec, seed: number): ReturnType<typeof tfl.initializers.glorotUniform> {
  switch (spec.kind) {
    case 'variance_scaling':
      return tfl.initializers.varianceScaling({ scale: spec.scale, mode: spec.mode, distribution: spec.distribution, seed });
    case 'random_uniform':
      return tfl.initializers.randomUniform({ minval: spec.minval, maxval: spec.maxval, seed });
    case 'random_normal':
      return tfl.initializers.randomNormal({ mean: spec.mean, stddev: spec.stddev, seed });
    case 'truncated_normal':
      return tfl.initializers.truncatedNormal({ mean: spec.mean, stddev: spec.stddev, seed });
    case 'constant':
      return spec.value === 0 ? tfl.initializers.zeros() : tfl.initializers.constant({ value: spec.value });
    default: {
      const unknown: never = spec;
      throw new Error(`unknown initializer ${JSON.stringify(unknown)}`);
    }
  }
}

/** True when an initializer draws random numbers (and so takes a seed). */
export function isRandomInitializer(spec: InitializerSpec): boolean {
  return spec.kind !== 'constant';
}

/** An option that must be null or absent, saying why. */
export function nullOnly(reason: string) {
  return z.null({ error: `not supported (${reason}); it must be null or absent` }).optional();
}

/** A positive integer or a pair of them (`3` or `[3, 3]`), as a pair. */
export const IntPairSchema = z
  .union([z.int().positive(), z.tuple([z.int().positive(), z.int().positive()])], { error: 'must be a positive integer or a pair [a, b] of them' })
  .transform((v): [number, number] => (typeof v === 'number' ? [v, v] : v));

/** A batch shape as Keras writes it: `[null, d1, d2, ...]` (a null dimension is taken from the data). */
export const BatchShapeSchema = z
  .array(z.int().positive().nullable(), { error: 'must be a list [batch, d1, ...] of positive integers or nulls' })
  .min(2, { error: 'must name the batch dimension and at least one sample dimension, e.g. [null, 784]' })
  .max(9, { error: 'at most 8 sample dimensions' });

/** `float32` as Keras 2 / tfjs (`'float32'`) or Keras 3 (a DTypePolicy) write it. */
export const DtypeSchema = z.union(
  [
    z.literal('float32'),
    z.null(),
    z.strictObject({
      module: z.string().optional(),
      class_name: z.literal('DTypePolicy'),
      config: z.strictObject({ name: z.literal('float32') }),
      registered_name: z.string().nullable().optional(),
    }),
  ],
  { error: 'only float32 is supported' },
);

/** Layer names kept as weight names (`<name>/kernel`): letters, digits, `_`, `.`, `-`, at most 128. */
export const LAYER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** The options every layer config may carry besides its own. */
export const CommonLayerOptions = {
  name: z.string().regex(LAYER_NAME, { error: 'a layer name must be 1-128 letters, digits, _, . or - (it names the weights)' }).optional(),
  trainable: z.literal(true, { error: 'frozen layers (trainable: false) are not supported: every parameter is trained' }).optional(),
  dtype: DtypeSchema.optional(),
  /** The input shape with the batch dimension (Keras 2, tfjs); on the first layer only. */
  batch_input_shape: BatchShapeSchema.optional(),
  /** Keras 3's name for batch_input_shape. */
  batch_shape: BatchShapeSchema.optional(),
};

/** `channels_last` (or null): NHWC, the only layout tfjs trains here. */
export const ChannelsLast = z.enum(['channels_last'], { error: 'only channels_last is supported' }).nullable().optional();

/** Describes one issue of a layer or initializer config, naming the option. */
export function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return `unsupported option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
  }
  return issue.path.length > 0 ? `option ${issue.path.join('.')}: ${issue.message}` : issue.message;
}
