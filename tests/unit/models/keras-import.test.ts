import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { buildModel, parseModelSpec, softmaxCrossEntropyLoss, type ModelSpec } from '../../../core/models/model-spec.ts';
import { MAX_KERAS_LAYERS, MAX_MODEL_PARAMS, normalizeKerasTopology } from '../../../core/models/keras-import.ts';
import { GradientComputer } from '../../../core/models/gradient-computer.ts';
import { flattenWeights, layoutOfModel } from '../../../core/codec/param-layout.ts';
import { storedRunConfig, validateRunConfig } from '../../../core/config/run-config.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const IMAGE = [8, 8, 1];
const CLASSES = 3;

/** A small CNN built with tfjs-layers itself (its defaults: glorot normal kernels, zero biases). */
function tfjsCnn(opts: { softmax?: boolean } = {}): tfl.Sequential {
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: IMAGE, filters: 4, kernelSize: 3, activation: 'relu' }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.conv2d({ filters: 6, kernelSize: 2, padding: 'same', strides: 1, activation: 'tanh', kernelInitializer: 'heUniform' }));
  m.add(tfl.layers.averagePooling2d({ poolSize: 3, strides: 1 }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 7, activation: 'elu' }));
  m.add(tfl.layers.dense({ units: CLASSES, ...(opts.softmax ? { activation: 'softmax' } : {}) }));
  return m;
}

/** The `modelTopology` tfjs writes for a model (what its model.json holds). */
function topologyOf(m: tfl.LayersModel): unknown {
  return m.toJSON(null, false);
}

const kerasSpec = (topology: unknown): ModelSpec => parseModelSpec({ type: 'keras', topology });

/** A Keras 2 style Sequential (as `model.to_json()` writes it) of dense layers on a flat input. */
function kerasMlp(layers: Record<string, unknown>[], inputShape: (number | null)[] = [null, 12]) {
  return {
    class_name: 'Sequential',
    config: {
      name: 'sequential',
      layers: [{ class_name: 'InputLayer', config: { batch_input_shape: inputShape, dtype: 'float32', sparse: false, ragged: false, name: 'input_1' } }, ...layers],
    },
    keras_version: '2.15.0',
    backend: 'tensorflow',
  };
}

const dense = (name: string, units: number, extra: Record<string, unknown> = {}) => ({
  class_name: 'Dense',
  config: {
    name,
    trainable: true,
    dtype: 'float32',
    units,
    activation: 'linear',
    use_bias: true,
    kernel_initializer: { class_name: 'GlorotUniform', config: { seed: null } },
    bias_initializer: { class_name: 'Zeros', config: {} },
    kernel_regularizer: null,
    bias_regularizer: null,
    activity_regularizer: null,
    kernel_constraint: null,
    bias_constraint: null,
    ...extra,
  },
});

function refusal(fn: () => unknown): CrowdtrainError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CrowdtrainError);
    expect((err as CrowdtrainError).code).toBe('INVALID_CONFIG');
    return err as CrowdtrainError;
  }
  throw new Error('expected a refusal');
}

function paramsOf(model: tfl.LayersModel): Float32Array {
  return flattenWeights(model, layoutOfModel(model));
}

describe('keras model spec: a topology written by tfjs', () => {
  it('is accepted and builds the same layers (output and weight shapes) and parameter count as the original', () => {
    const original = tfjsCnn({ softmax: true });
    const spec = kerasSpec(topologyOf(original));
    const model = buildModel(spec, { inputShape: IMAGE, numClasses: CLASSES, seed: 3 });
    expect(model.countParams()).toBe(original.countParams());
    expect(model.layers.map((l) => l.name)).toEqual(original.layers.map((l) => l.name));
    model.layers.forEach((l, i) => {
      const o = original.layers[i]!;
      expect(l.outputShape, l.name).toEqual(o.outputShape);
      expect(l.trainableWeights.map((w) => w.shape)).toEqual(o.trainableWeights.map((w) => w.shape));
    });
    // The final softmax is dropped: the model outputs logits (they do not sum to 1).
    const x = tf.randomUniform([2, ...IMAGE], 0, 1, 'float32', 1);
    const sums = tf.sum(model.predict(x) as tf.Tensor, -1).arraySync() as number[];
    expect(sums.some((s) => Math.abs(s - 1) > 1e-3)).toBe(true);
    tf.dispose(x);
    model.dispose();
    original.dispose();
  });

  it('draws bit-identical initial weights for the same seed (not the file weights), others for another seed', () => {
    const spec = kerasSpec(topologyOf(tfjsCnn()));
    const info = { inputShape: IMAGE, numClasses: CLASSES, seed: 42 };
    const [a, b, c] = [info, info, { ...info, seed: 43 }].map((i) => {
      const m = buildModel(spec, i);
      const p = paramsOf(m);
      m.dispose();
      return p;
    });
    expect(Buffer.from(a!.buffer).equals(Buffer.from(b!.buffer))).toBe(true);
    expect(Buffer.from(a!.buffer).equals(Buffer.from(c!.buffer))).toBe(false);
    // Kernels are random, biases zero (the initializers the topology names).
    expect(a!.some((v) => v !== 0)).toBe(true);
  });

  it('with glorot uniform / zeros, draws exactly the weights of the equivalent `mlp` spec', () => {
    const info = { inputShape: [12], numClasses: CLASSES, seed: 9 };
    const keras = buildModel(kerasSpec(kerasMlp([dense('hidden', 16, { activation: 'relu' }), dense('out', CLASSES)])), info);
    const mlp = buildModel(parseModelSpec({ type: 'mlp', hidden: [16] }), info);
    expect(paramsOf(keras)).toEqual(paramsOf(mlp));
    keras.dispose();
    mlp.dispose();
  });

  it('normalises the wrappers tfjs and Keras write (model.json, model_config, the bare list) to one topology that validates to itself', () => {
    const inner = topologyOf(tfjsCnn()) as { class_name: string; config: { layers: unknown[] } };
    const direct = kerasSpec(inner);
    expect(kerasSpec({ modelTopology: inner, weightsManifest: [] })).toEqual(direct);
    expect(kerasSpec({ model_config: inner, training_config: null, keras_version: '2.15.0' })).toEqual(direct);
    const bare = kerasSpec({ class_name: 'Sequential', config: inner.config.layers });
    expect(bare.type === 'keras' && bare.topology.config.layers).toEqual(direct.type === 'keras' && direct.topology.config.layers);
    // Idempotent: the normalised topology (as a stored run config holds it) validates to itself.
    expect(kerasSpec(JSON.parse(JSON.stringify(direct.type === 'keras' ? direct.topology : null)))).toEqual(direct);
    const config = validateRunConfig({
      model: direct,
      dataset: { name: 'synthetic', shape: IMAGE, classes: CLASSES },
      optimizer: { name: 'adam', lr: 0.01 },
      batch_size: 8,
      total_updates: 10,
    });
    expect(validateRunConfig(JSON.parse(JSON.stringify(storedRunConfig(config))))).toEqual(config);
  });

  it('accepts a Keras 2 style topology (InputLayer, GlorotUniform objects, Keras 3 dtype policies) with the input shape taken from it', () => {
    const policy = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null };
    const spec = kerasSpec(
      kerasMlp([
        { class_name: 'Reshape', config: { name: 'grid', target_shape: [3, 4, 1], dtype: policy } },
        { class_name: 'Conv2D', config: { name: 'conv', filters: 2, kernel_size: [2, 2], strides: [1, 1], padding: 'valid', data_format: 'channels_last', dilation_rate: [1, 1], groups: 1, activation: 'selu', kernel_initializer: 'he_normal' } },
        { class_name: 'Flatten', config: { name: 'flat', data_format: 'channels_last' } },
        { class_name: 'Dropout', config: { name: 'drop', rate: 0.25, noise_shape: null, seed: 7 } },
        { class_name: 'ReLU', config: { name: 'relu', max_value: 6, negative_slope: 0, threshold: 0 } },
        dense('logits', CLASSES, { activation: 'softmax' }),
        { class_name: 'Dropout', config: { name: 'late_drop', rate: 0.1 } },
        { class_name: 'Activation', config: { name: 'probs', activation: 'softmax' } },
      ]),
    );
    for (const convImplementation of ['fast', 'native'] as const) {
      const model = buildModel(spec, { inputShape: [12], numClasses: CLASSES, seed: 1, convImplementation });
      // selu is not one of FastConv2D's own activations: it follows the conv as a layer; the softmax is dropped.
      expect(model.layers.map((l) => l.name)).toEqual(['grid', 'conv', 'conv_activation', 'flat', 'drop', 'relu', 'logits', 'late_drop']);
      // The logits layer's softmax (before a trailing Dropout) is dropped too.
      expect((model.getLayer('logits').getConfig() as { activation: string }).activation).toBe('linear');
      expect(model.countParams()).toBe(2 * 2 * 1 * 2 + 2 + 2 * 3 * 2 * CLASSES + CLASSES);
      model.dispose();
    }
  });

  it('accepts a Keras 3 `model.to_json()` (module, registered_name, build_config, batch_shape)', () => {
    const policy = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null };
    const init = (class_name: string) => ({ module: 'keras.initializers', class_name, config: class_name === 'Zeros' ? {} : { seed: null }, registered_name: null });
    const keras3 = {
      module: 'keras',
      class_name: 'Sequential',
      config: {
        name: 'sequential',
        trainable: true,
        dtype: policy,
        layers: [
          { module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: [null, 12], dtype: 'float32', sparse: false, name: 'input_layer' }, registered_name: null },
          {
            module: 'keras.layers',
            class_name: 'Dense',
            config: { name: 'dense', trainable: true, dtype: policy, units: CLASSES, activation: 'softmax', use_bias: true, kernel_initializer: init('GlorotUniform'), bias_initializer: init('Zeros'), kernel_regularizer: null, bias_regularizer: null, kernel_constraint: null, bias_constraint: null },
            registered_name: null,
            build_config: { input_shape: [null, 12] },
          },
        ],
        build_input_shape: [null, 12],
      },
      registered_name: null,
      build_config: { input_shape: [null, 12] },
    };
    const model = buildModel(kerasSpec(keras3), { inputShape: [12], numClasses: CLASSES, seed: 1 });
    expect(model.countParams()).toBe(12 * CLASSES + CLASSES);
    model.dispose();
    expect(refusal(() => kerasSpec({ ...keras3, config: { ...keras3.config, trainable: false } })).message).toContain('frozen model');
  });

  it('takes null dimensions, or a missing input shape, from the data', () => {
    const noShape = kerasSpec({ class_name: 'Sequential', config: { layers: [{ class_name: 'Flatten', config: {} }, dense('out', CLASSES)] } });
    const model = buildModel(noShape, { inputShape: [4, 5], numClasses: CLASSES, seed: 1 });
    expect(model.countParams()).toBe(20 * CLASSES + CLASSES);
    // Unnamed layers are named <class>_<index>.
    expect(model.layers.map((l) => l.name)).toEqual(['flatten_0', 'out']);
    model.dispose();
    const nulls = buildModel(kerasSpec(kerasMlp([dense('out', CLASSES)], [null, null])), { inputShape: [6], numClasses: CLASSES, seed: 1 });
    expect(nulls.countParams()).toBe(6 * CLASSES + CLASSES);
    nulls.dispose();
  });
});

describe('keras model spec: refusals (INVALID_CONFIG, naming what is refused)', () => {
  const build = (topology: unknown, info: { inputShape?: number[]; numClasses?: number } = {}) =>
    buildModel(kerasSpec(topology), { inputShape: info.inputShape ?? [12], numClasses: info.numClasses ?? CLASSES, seed: 1 }).dispose();

  it('an unsupported layer, by class_name, index and name, listing the supported ones', () => {
    const err = refusal(() => kerasSpec(kerasMlp([{ class_name: 'LSTM', config: { name: 'lstm_1', units: 4 } }, dense('out', CLASSES)])));
    expect(err.message).toContain('layer 1 (lstm_1, LSTM)');
    expect(err.message).toContain('layer class LSTM is not supported');
    for (const name of ['Dense', 'Conv2D', 'MaxPooling2D', 'AveragePooling2D', 'Flatten', 'Dropout', 'Activation', 'Reshape', 'ReLU', 'Softmax', 'InputLayer']) {
      expect(err.message).toContain(name);
    }
  });

  it('BatchNormalization, saying why', () => {
    const err = refusal(() => kerasSpec(kerasMlp([{ class_name: 'BatchNormalization', config: { name: 'bn', axis: -1 } }, dense('out', CLASSES)])));
    expect(err.message).toContain('layer 1 (bn, BatchNormalization): BatchNormalization is not supported');
    expect(err.message).toContain('batch statistics');
  });

  it('a functional model, and anything that is not a Sequential topology', () => {
    const input = tfl.input({ shape: [12] });
    const functional = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: CLASSES }).apply(input) as tfl.SymbolicTensor });
    expect(refusal(() => kerasSpec(topologyOf(functional))).message).toContain('functional model (class_name Model): only Sequential models are supported');
    expect(refusal(() => kerasSpec({ class_name: 'Functional', config: { layers: [] } })).message).toContain('only Sequential');
    expect(refusal(() => kerasSpec([1, 2])).message).toContain('modelTopology');
    expect(refusal(() => kerasSpec(undefined)).message).toContain('topology is missing');
  });

  it('options a supported layer does not support, by name', () => {
    const regularized = refusal(() => kerasSpec(kerasMlp([dense('out', CLASSES, { kernel_regularizer: { class_name: 'L2', config: { l2: 0.01 } } })])));
    expect(regularized.message).toContain('layer 1 (out, Dense): option kernel_regularizer: not supported');
    const unknown = refusal(() => kerasSpec(kerasMlp([dense('out', CLASSES, { kernel_quantizer: 'int8' })])));
    expect(unknown.message).toContain('unsupported option kernel_quantizer');
    const custom = refusal(() => kerasSpec(kerasMlp([dense('out', CLASSES, { kernel_initializer: { class_name: 'MyInit', config: {} } })])));
    expect(custom.message).toContain('option kernel_initializer: initializer MyInit is not supported');
    const conv = (config: Record<string, unknown>) => kerasSpec({ class_name: 'Sequential', config: { layers: [{ class_name: 'Conv2D', config: { name: 'c', filters: 2, kernel_size: 3, ...config } }] } });
    expect(refusal(() => conv({ dilation_rate: [2, 2] })).message).toContain('option dilation_rate: dilation_rate other than 1 is not supported');
    expect(refusal(() => conv({ kernel_size: [3, 5] })).message).toContain('kernel_size [3, 5] is not square');
    expect(refusal(() => conv({ data_format: 'channels_first' })).message).toContain('option data_format: only channels_last');
    expect(refusal(() => conv({ use_bias: false })).message).toContain('option use_bias');
    expect(refusal(() => conv({ activation: 'leaky_relu' })).message).toContain('activation "leaky_relu" is not supported');
    expect(refusal(() => kerasSpec(kerasMlp([dense('out', CLASSES, { trainable: false })]))).message).toContain('option trainable: frozen layers');
    expect(refusal(() => kerasSpec(kerasMlp([dense('a', 4), dense('a', CLASSES)]))).message).toContain('layer name a is also the name of layer 1');
  });

  it('a last Dense whose units are not the number of classes, naming both, and a model that does not end in logits', () => {
    const err = refusal(() => build(kerasMlp([dense('hidden', 8, { activation: 'relu' }), dense('out', 5, { activation: 'softmax' })])));
    expect(err.message).toContain('layer 2 (out, Dense) is the last layer and has 5 units, but the data set has 3 classes');
    expect(refusal(() => build(kerasMlp([dense('out', CLASSES, { activation: 'relu' })]))).message).toContain('applies activation relu');
    expect(refusal(() => build(kerasMlp([dense('out', CLASSES), { class_name: 'Reshape', config: { target_shape: [3, 1] } }]))).message).toContain('outputs [3, 1] per sample, but must output [3]');
  });

  it('an input shape other than the data set sample shape, naming both', () => {
    const err = refusal(() => build(kerasMlp([dense('out', CLASSES)], [null, 28, 28, 1]), { inputShape: [784] }));
    expect(err.message).toContain('input shape [28, 28, 1]');
    expect(err.message).toContain("data set's sample shape [784]");
    expect(refusal(() => build(kerasMlp([{ class_name: 'Conv2D', config: { filters: 2, kernel_size: 3 } }, { class_name: 'Flatten', config: {} }, dense('out', CLASSES)]))).message).toContain('needs an input of 3 dimensions per sample');
  });

  it(`more than ${MAX_KERAS_LAYERS} layers, and more than ${MAX_MODEL_PARAMS} parameters (before allocating them)`, () => {
    const many = Array.from({ length: MAX_KERAS_LAYERS }, (_, i) => dense(`d${i}`, 4));
    expect(refusal(() => kerasSpec(kerasMlp(many))).message).toContain(`${MAX_KERAS_LAYERS + 1} layers, more than the limit of ${MAX_KERAS_LAYERS}`);
    const tensorsBefore = tf.memory().numTensors;
    const huge = refusal(() => build(kerasMlp([dense('wide', 5000), dense('wider', 10_001), dense('out', CLASSES)], [null, 12]), { inputShape: [12] }));
    expect(huge.message).toContain('the model has 50,110,007 parameters, more than the limit of 50,000,000');
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });

  it('model.path in core: it is the CLI that reads the file', () => {
    expect(refusal(() => parseModelSpec({ type: 'keras', path: 'model.json' })).message).toContain('model.path is read by the crowdtrain CLI');
  });

  it('normalizeKerasTopology itself throws the same errors', () => {
    expect(() => normalizeKerasTopology({ class_name: 'Sequential', config: { layers: [{ class_name: 'GRU', config: {} }] } })).toThrow(/layer 0 \(GRU\): layer class GRU is not supported/);
  });
});

describe('keras model spec: gradients', () => {
  it('GradientComputer with the imported spec == tf.variableGrads on the tfjs-built model with the same weights, within 1e-5', () => {
    for (const convImplementation of ['fast', 'native'] as const) {
      const original = tfjsCnn();
      const info = { inputShape: IMAGE, numClasses: CLASSES, seed: 5, convImplementation };
      const gc = GradientComputer.create(kerasSpec(topologyOf(original)), info);
      original.setWeights(gc.model.getWeights());
      const n = 6;
      const xs = tf.randomUniform([n, ...IMAGE], 0, 1, 'float32', 11);
      const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 2, 1, 0], 'int32'), CLASSES);
      const vars = original.trainableWeights.map((w) => w.read() as tf.Variable);
      const reference = tf.tidy(() => {
        const { grads } = tf.variableGrads(() => softmaxCrossEntropyLoss(ys, original.apply(xs) as tf.Tensor), vars);
        return tf.concat(vars.map((v) => tf.reshape(grads[v.name]!, [-1])));
      });
      const expected = reference.dataSync() as Float32Array;
      const { grads } = gc.computeGradients(xs, ys);
      expect(grads.length).toBe(expected.length);
      let maxDiff = 0;
      for (let i = 0; i < grads.length; i++) maxDiff = Math.max(maxDiff, Math.abs((grads[i] ?? 0) - (expected[i] ?? 0)));
      expect(maxDiff, convImplementation).toBeLessThanOrEqual(1e-5);
      expect(expected.some((g) => Math.abs(g) > 1e-4)).toBe(true);
      tf.dispose([xs, ys, reference]);
      gc.dispose();
      original.dispose();
    }
  });
});
