import path from 'node:path';
import { readFile, stat } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { parseRunConfig, validateRunConfig, type RunConfig } from '../core/config/run-config.ts';
import { CrowdtrainError } from '../core/protocol/errors.ts';

/** Largest model.json a `model: {type: keras, path}` may name. */
export const MAX_MODEL_JSON_BYTES = 16 * 1024 * 1024;

/** A run config read from a file. */
export interface RunConfigFile {
  config: RunConfig;
  /**
   * The config as a coordinator is sent it: the file's text, or (when `model.path` was inlined) the
   * config as JSON with the topology in it.
   */
  text: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Replaces `model.path` of a keras model by `model.topology`: the `modelTopology` of the model.json
 * it names (relative to `baseDir`, at most {@link MAX_MODEL_JSON_BYTES}); the file's weights are not
 * read. A config without `model.path` is returned as it is (the same object). Core never reads files:
 * this is how a config file can point at a model.json.
 * @example const raw = await inlineModelPath(parseYaml(text), path.dirname(configFile));
 */
export async function inlineModelPath(raw: unknown, baseDir: string): Promise<unknown> {
  if (!isRecord(raw) || !isRecord(raw.model) || raw.model.type !== 'keras' || raw.model.path === undefined) return raw;
  const { path: given, ...model } = raw.model;
  if (typeof given !== 'string' || given.length === 0) throw new CrowdtrainError('INVALID_CONFIG', 'model.path must be the file name of a model.json');
  if (model.topology !== undefined) throw new CrowdtrainError('INVALID_CONFIG', 'model.path and model.topology are both given: give one of them');
  const file = path.resolve(baseDir, given);
  let text: string;
  try {
    const { size } = await stat(file);
    if (size > MAX_MODEL_JSON_BYTES) {
      throw new CrowdtrainError('INVALID_CONFIG', `model.path ${file} is ${size} bytes, more than the limit of ${MAX_MODEL_JSON_BYTES} (16 MiB): a model.json holds the topology only (its weights are in .bin files)`);
    }
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof CrowdtrainError) throw err;
    throw new CrowdtrainError('INVALID_CONFIG', `cannot read model.path ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CrowdtrainError('INVALID_CONFIG', `model.path ${file} is not JSON: ${(err as Error).message}`);
  }
  // A tfjs model.json wraps the topology in `modelTopology`; a bare topology is taken as it is.
  const topology = isRecord(json) && json.modelTopology !== undefined ? json.modelTopology : json;
  return { ...raw, model: { ...model, topology } };
}

/**
 * Reads and validates a run config file (YAML or JSON), with a keras `model.path` inlined (resolved
 * relative to the config file). Throws CrowdtrainError INVALID_CONFIG naming the file or the bad field.
 * @example const { config, text } = await readRunConfigFile('configs/keras-mlp.yaml');
 */
export async function readRunConfigFile(file: string): Promise<RunConfigFile> {
  const resolved = path.resolve(file);
  let text: string;
  try {
    text = await readFile(resolved, 'utf8');
  } catch (err) {
    throw new CrowdtrainError('INVALID_CONFIG', `cannot read config ${resolved}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch {
    // parseRunConfig reports the syntax error.
    return { config: parseRunConfig(text, resolved), text };
  }
  const inlined = await inlineModelPath(raw, path.dirname(resolved));
  if (inlined === raw) return { config: parseRunConfig(text, resolved), text };
  return { config: validateRunConfig(inlined), text: JSON.stringify(inlined) };
}
