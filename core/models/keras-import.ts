import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import { CrowdtrainError } from '../protocol/errors.ts';
import { layerSeed, validateBuildInfo, type ModelBuildInfo } from './build-info.ts';
import { KERAS_LAYERS, REFUSED_LAYERS, type BuiltLayer, type KerasLayerContext, type KerasLayerDef } from './keras-layers.ts';
import { describeIssue, isRandomInitializer, makeInitializer } from './keras-options.ts';

/** Most layers (InputLayer included) a Keras topology may have. */
export const MAX_KERAS_LAYERS = 256;

/** Most parameters an imported model may have (checked before any weight is allocated). */
export const MAX_MODEL_PARAMS = 50_000_000;

/** One layer of a normalised topology: its Keras class and its config as the file has it. */
export interface KerasLayerEntry {
  class_name: string;
  config: Record<string, unknown>;
}

/**
 * A Sequential topology as {@link normalizeKerasTopology} leaves it: the wrappers tfjs and Keras
 * write (`modelTopology`, `model_config`, `keras_version`, ...) removed, every layer validated.
 * Normalising it again gives it back unchanged (a stored run config validates to itself).
 */
export interface KerasTopology {
  class_name: 'Sequential';
  config: { name?: string; layers: KerasLayerEntry[] };
}

/** Keys of a model.json topology around the model itself (kept by Keras and tfjs, not used here). */
const TOPOLOGY_METADATA = new Set(['keras_version', 'backend', 'training_config', 'compile_config', 'module', 'registered_name', 'build_config']);
/** Keys of a Sequential's `config` besides `layers` and `name` (Keras 2 / 3), not used here. */
const SEQUENTIAL_METADATA = new Set(['build_input_shape', 'trainable', 'dtype']);
/** Keys of one layer entry besides `class_name` and `config` (Keras 3, functional models), not used here. */
const LAYER_METADATA = new Set(['name', 'module', 'registered_name', 'build_config', 'inbound_nodes']);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const invalid = (message: string): CrowdtrainError => new CrowdtrainError('INVALID_CONFIG', message);
const fmtShape = (s: readonly (number | null)[]): string => `[${s.map((d) => (d === null ? 'null' : String(d))).join(', ')}]`;

function supportedList(): string {
  return Object.keys(KERAS_LAYERS).join(', ');
}

/** The name a layer is built with: the file's, else `<class>_<index>`. */
function layerName(entry: KerasLayerEntry, index: number): string {
  const name = entry.config.name;
  return typeof name === 'string' ? name : `${entry.class_name.toLowerCase()}_${index}`;
}

function describeLayer(entry: KerasLayerEntry, index: number): string {
  return `layer ${index} (${typeof entry.config.name === 'string' ? `${entry.config.name}, ` : ''}${entry.class_name})`;
}

/** The layers array of a Sequential's config: Keras 2 / tfjs `{name, layers}`, or the old bare list. */
function layersOf(config: unknown): { name?: string; layers: unknown[] } {
  if (Array.isArray(config)) return { layers: config };
  if (!isRecord(config) || !Array.isArray(config.layers)) {
    throw invalid('topology.config must hold the layers: {name, layers: [...]} as tfjs and Keras write a Sequential model');
  }
  for (const key of Object.keys(config)) {
    if (key !== 'layers' && key !== 'name' && !SEQUENTIAL_METADATA.has(key)) throw invalid(`topology.config has an unsupported key ${key}`);
  }
  if (config.trainable === false) throw invalid('topology.config.trainable is false: a frozen model is not supported (every parameter is trained)');
  const { name } = config;
  if (name !== undefined && (typeof name !== 'string' || name.length > 128)) throw invalid('topology.config.name must be a string of at most 128 characters');
  return { ...(name === undefined ? {} : { name }), layers: config.layers };
}

function normalizeLayer(raw: unknown, index: number): KerasLayerEntry {
  if (!isRecord(raw) || typeof raw.class_name !== 'string') throw invalid(`layer ${index} must be {class_name, config}`);
  for (const key of Object.keys(raw)) {
    if (key !== 'class_name' && key !== 'config' && !LAYER_METADATA.has(key)) throw invalid(`layer ${index} (${raw.class_name}) has an unsupported key ${key}`);
  }
  const config = raw.config ?? {};
  if (!isRecord(config)) throw invalid(`layer ${index} (${raw.class_name}): config must be a mapping of options`);
  const entry: KerasLayerEntry = { class_name: raw.class_name, config };
  const what = describeLayer(entry, index);
  const refused = Object.hasOwn(REFUSED_LAYERS, entry.class_name) ? REFUSED_LAYERS[entry.class_name] : undefined;
  if (refused !== undefined) throw invalid(`${what}: ${entry.class_name} is not supported: ${refused}`);
  const def = Object.hasOwn(KERAS_LAYERS, entry.class_name) ? KERAS_LAYERS[entry.class_name] : undefined;
  if (def === undefined) throw invalid(`${what}: layer class ${entry.class_name} is not supported; supported layers: ${supportedList()}`);
  const parsed = def.schema.safeParse(config);
  if (!parsed.success) throw invalid(`${what}: ${parsed.error.issues.map(describeIssue).join('; ')}`);
  if (index > 0 && (config.batch_input_shape != null || config.batch_shape != null)) {
    throw invalid(`${what}: option ${config.batch_input_shape != null ? 'batch_input_shape' : 'batch_shape'} is only allowed on the first layer`);
  }
  if (index > 0 && entry.class_name === 'InputLayer') throw invalid(`${what}: an InputLayer must be the first layer`);
  return entry;
}

/**
 * Validates the `modelTopology` of a tfjs-layers or Keras model.json (or the whole model.json, or
 * its `model_config`) and returns it normalised. Only Sequential models of the layers in
 * {@link KERAS_LAYERS}, with options their schemas allow, at most {@link MAX_KERAS_LAYERS} layers
 * with unique names. Throws CrowdtrainError INVALID_CONFIG naming the layer (index, name, class) and
 * the option refused.
 * @example normalizeKerasTopology(model.toJSON(null, false)).config.layers.length
 */
export function normalizeKerasTopology(raw: unknown): KerasTopology {
  if (raw === undefined) throw invalid('topology is missing: give the modelTopology of a model.json ({class_name: Sequential, config: {layers: [...]}})');
  let top = raw;
  if (isRecord(top) && isRecord(top.modelTopology)) top = top.modelTopology;
  if (isRecord(top) && isRecord(top.model_config)) top = top.model_config;
  if (!isRecord(top) || typeof top.class_name !== 'string') {
    throw invalid('topology must be the modelTopology of a tfjs/Keras model.json: {class_name: Sequential, config: {layers: [...]}}');
  }
  if (top.class_name === 'Model' || top.class_name === 'Functional') {
    throw invalid(`topology is a functional model (class_name ${top.class_name}): only Sequential models are supported`);
  }
  if (top.class_name !== 'Sequential') throw invalid(`topology class_name ${top.class_name} is not supported: only Sequential models are`);
  for (const key of Object.keys(top)) {
    if (key !== 'class_name' && key !== 'config' && !TOPOLOGY_METADATA.has(key)) throw invalid(`topology has an unsupported key ${key}`);
  }
  const { name, layers: rawLayers } = layersOf(top.config);
  if (rawLayers.length > MAX_KERAS_LAYERS) throw invalid(`topology has ${rawLayers.length} layers, more than the limit of ${MAX_KERAS_LAYERS}`);
  const layers = rawLayers.map(normalizeLayer);
  if (!layers.some((l) => l.class_name !== 'InputLayer')) throw invalid('topology has no layers to train');
  const seen = new Map<string, number>();
  layers.forEach((l, i) => {
    const n = layerName(l, i);
    const before = seen.get(n);
    if (before !== undefined) throw invalid(`${describeLayer(l, i)}: layer name ${n} is also the name of layer ${before}; layer names must be unique`);
    seen.set(n, i);
  });
  return { class_name: 'Sequential', config: { ...(name === undefined ? {} : { name }), layers } };
}

/** zod schema of an inline topology; the output is the normalised {@link KerasTopology}. */
export const KerasTopologySchema = z.unknown().transform((raw, ctx): KerasTopology => {
  try {
    return normalizeKerasTopology(raw);
  } catch (err) {
    if (!(err instanceof CrowdtrainError)) throw err;
    ctx.addIssue({ code: 'custom', message: err.message });
    return z.NEVER;
  }
});

/** Why `model.path` cannot reach core: the CLI reads the file and inlines it. */
export const KERAS_PATH_NOT_INLINED =
  'model.path is read by the crowdtrain CLI (start --config, submit), which replaces it by the model.json topology; a config given any other way must inline `topology`';

/**
 * A model imported from a Keras / tfjs-layers Sequential topology (its architecture only: weights
 * are drawn from the run seed). `path` is accepted by the CLI only, which inlines the file.
 * @example KerasSpecSchema.parse({ type: 'keras', topology: tfModel.toJSON(null, false) })
 */
export const KerasSpecSchema = z.strictObject({
  type: z.literal('keras'),
  topology: KerasTopologySchema,
  path: z.undefined({ error: KERAS_PATH_NOT_INLINED }).optional(),
});

/** A layer of the topology with what the builder needs about it. */
interface PlannedLayer {
  index: number;
  entry: KerasLayerEntry;
  def: KerasLayerDef;
  config: unknown;
  name: string;
}

function plan(topology: KerasTopology): PlannedLayer[] {
  return topology.config.layers.map((entry, index) => {
    const def = KERAS_LAYERS[entry.class_name];
    if (def === undefined) throw invalid(`${describeLayer(entry, index)}: layer class ${entry.class_name} is not supported; supported layers: ${supportedList()}`);
    const parsed = def.schema.safeParse(entry.config);
    if (!parsed.success) throw invalid(`${describeLayer(entry, index)}: ${parsed.error.issues.map(describeIssue).join('; ')}`);
    return { index, entry, def, config: parsed.data, name: layerName(entry, index) };
  });
}

/** Refuses a declared input shape (batch dimension first) other than the data's sample shape; a null dimension takes the data's. */
function checkInputShape(layers: PlannedLayer[], inputShape: readonly number[]): void {
  const first = layers[0];
  if (first === undefined) return;
  const declared = (first.entry.config.batch_input_shape ?? first.entry.config.batch_shape) as (number | null)[] | null | undefined;
  if (declared == null) return;
  const sample = declared.slice(1);
  if (sample.length !== inputShape.length || sample.some((d, i) => d !== null && d !== inputShape[i])) {
    throw invalid(`the topology's input shape ${fmtShape(sample)} (batch_input_shape of ${describeLayer(first.entry, 0)}, without the batch dimension) does not match the data set's sample shape ${fmtShape(inputShape)}`);
  }
}

/**
 * The layers to build: InputLayer dropped, a trailing softmax (a Softmax layer or a softmax
 * Activation) dropped; and the logits layer: the last one that is not a Dropout, which must be
 * able to produce logits (a softmax activation there is dropped too).
 */
function trainableLayers(layers: PlannedLayer[], numClasses: number): { body: PlannedLayer[]; logits: PlannedLayer } {
  const body = layers.filter((l) => l.entry.class_name !== 'InputLayer');
  const isSoftmax = (l: PlannedLayer): boolean => l.def.isSoftmax?.(l.config) === true;
  for (let i = body.length - 1; i > 0 && (isSoftmax(body[i]!) || body[i]!.entry.class_name === 'Dropout'); i--) {
    if (isSoftmax(body[i]!)) body.splice(i, 1);
  }
  const last = [...body].reverse().find((l) => l.entry.class_name !== 'Dropout');
  if (last === undefined) throw invalid('topology has no layers to train');
  const what = describeLayer(last.entry, last.index);
  const units = last.def.units?.(last.config);
  if (units !== undefined && units !== numClasses) {
    throw invalid(`${what} is the last layer and has ${units} units, but the data set has ${numClasses} classes: it must output one logit per class`);
  }
  const activation = last.def.activation?.(last.config);
  if (activation !== undefined && activation !== 'linear' && activation !== 'softmax') {
    throw invalid(`${what} is the last layer and applies activation ${activation}: the model must end in logits (a linear Dense, or a softmax, which is dropped)`);
  }
  return { body, logits: last };
}

/**
 * Builds a normalised topology as a tfjs-layers Sequential that outputs **logits** (a final softmax
 * is dropped), with initial weights drawn from `info.seed` (the file's weights and seeds are not
 * used): the same topology and seed give bit-identical weights on every worker. Shapes are
 * checked and parameters counted before any weight is allocated. Throws CrowdtrainError
 * INVALID_CONFIG when the input shape differs from the data's, the last layer is not numClasses
 * logits, a layer does not fit its input, or the model has more than {@link MAX_MODEL_PARAMS}
 * parameters.
 * @example const model = buildKerasModel(normalizeKerasTopology(json), { inputShape: [28, 28, 1], numClasses: 10, seed: 42 });
 */
export function buildKerasModel(topology: KerasTopology, info: ModelBuildInfo): tfl.Sequential {
  validateBuildInfo(info);
  const planned = plan(topology);
  checkInputShape(planned, info.inputShape);
  const { body, logits } = trainableLayers(planned, info.numClasses);
  let seedIndex = 0;
  let inputGiven = false;
  const built: BuiltLayer[] = [];
  const names = new Set<string>();
  let shape: (number | null)[] = [null, ...info.inputShape];
  let params = 0;
  for (const layer of body) {
    const what = describeLayer(layer.entry, layer.index);
    if (layer.def.inputRank !== undefined && shape.length !== layer.def.inputRank) {
      throw invalid(`${what} needs an input of ${layer.def.inputRank - 1} dimensions per sample (an image [h, w, c]), but gets ${fmtShape(shape.slice(1))}; add a Reshape before it`);
    }
    const ctx: KerasLayerContext = {
      name: layer.name,
      inputArgs: () => {
        if (inputGiven) return {};
        inputGiven = true;
        return { inputShape: [...info.inputShape] };
      },
      initializer: (spec) => makeInitializer(spec, isRandomInitializer(spec) ? layerSeed(info.seed, seedIndex++) : 0),
      convImplementation: info.convImplementation ?? 'fast',
      isLogits: layer === logits,
    };
    params += layer.def.paramCount(layer.config, shape.slice(1) as number[]);
    for (const l of layer.def.build(layer.config, ctx)) {
      if (names.has(l.name)) throw invalid(`${what}: layer name ${l.name} is used twice`);
      names.add(l.name);
      try {
        shape = l.computeOutputShape(shape) as (number | null)[];
      } catch (err) {
        throw invalid(`${what} does not fit its input ${fmtShape(shape.slice(1))}: ${(err as Error).message}`);
      }
      if (shape.slice(1).some((d) => d === null || !Number.isInteger(d) || d <= 0)) {
        throw invalid(`${what} outputs ${fmtShape(shape.slice(1))} per sample: its input is too small for it (or the shape is not fully known)`);
      }
      built.push(l);
    }
  }
  const out = shape.slice(1);
  if (out.length !== 1 || out[0] !== info.numClasses) {
    throw invalid(`the model outputs ${fmtShape(out)} per sample, but must output [${info.numClasses}]: one logit per class (end with a Dense of ${info.numClasses} units)`);
  }
  if (params > MAX_MODEL_PARAMS) throw invalid(`the model has ${params.toLocaleString('en-US')} parameters, more than the limit of ${MAX_MODEL_PARAMS.toLocaleString('en-US')}`);
  const model = tfl.sequential(topology.config.name === undefined ? {} : { name: topology.config.name });
  try {
    for (const l of built) model.add(l);
    const counted = model.countParams();
    if (counted !== params) throw new CrowdtrainError('INTERNAL', `the keras builder counted ${params} parameters, tfjs built ${counted}`);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}
