import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { MAX_MODEL_JSON_BYTES, readRunConfigFile } from '../../../coordinator/run-config-file.ts';
import { parseRunConfig } from '../../../core/config/run-config.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'crowdtrain-config-file-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const base = {
  name: 'from-file',
  dataset: { name: 'synthetic', shape: [6], classes: 3 },
  optimizer: { name: 'sgd', lr: 0.1 },
  batch_size: 4,
  total_updates: 5,
};

function topology(): unknown {
  const m = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [6], units: 3, name: 'out' })] });
  const t = m.toJSON(null, false);
  m.dispose();
  return t;
}

async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CrowdtrainError);
  expect((err as CrowdtrainError).code).toBe('INVALID_CONFIG');
  return (err as CrowdtrainError).message;
}

describe('readRunConfigFile', () => {
  it('reads a config as it is when it names no model.path (the text is the file)', async () => {
    const file = path.join(dir, 'plain.yaml');
    const text = stringify({ ...base, model: { type: 'mlp', hidden: [4] } });
    await writeFile(file, text);
    const read = await readRunConfigFile(file);
    expect(read.text).toBe(text);
    expect(read.config.model).toEqual({ type: 'mlp', hidden: [4], activation: 'relu' });
  });

  it('inlines a keras model.path (a tfjs model.json, relative to the config file) as the topology; the text sent carries it', async () => {
    await mkdir(path.join(dir, 'models'), { recursive: true });
    await writeFile(path.join(dir, 'models', 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: topology(), weightsManifest: [] }));
    const file = path.join(dir, 'keras.yaml');
    await writeFile(file, stringify({ ...base, model: { type: 'keras', path: 'models/model.json' } }));
    const read = await readRunConfigFile(file);
    expect(read.config.model.type).toBe('keras');
    expect(read.config.model.type === 'keras' && read.config.model.topology.config.layers.map((l) => l.class_name)).toEqual(['Dense']);
    expect(read.config.model).not.toHaveProperty('path');
    // What a coordinator does with the text it is sent.
    expect(parseRunConfig(read.text).model).toEqual(read.config.model);
    // A bare topology file works too.
    await writeFile(path.join(dir, 'bare.json'), JSON.stringify(topology()));
    await writeFile(file, stringify({ ...base, model: { type: 'keras', path: 'bare.json' } }));
    const bare = (await readRunConfigFile(file)).config.model;
    expect(bare.type === 'keras' && bare.topology.config.layers).toEqual(read.config.model.type === 'keras' && read.config.model.topology.config.layers);
  });

  it('refuses a missing, oversized or non-JSON model.path, and path with topology', async () => {
    const file = path.join(dir, 'bad.yaml');
    const write = (model: unknown) => writeFile(file, stringify({ ...base, model }));
    await write({ type: 'keras', path: 'missing.json' });
    expect(await refusal(readRunConfigFile(file))).toContain(`cannot read model.path ${path.join(dir, 'missing.json')}`);
    const big = path.join(dir, 'big.json');
    await writeFile(big, '');
    await truncate(big, MAX_MODEL_JSON_BYTES + 1);
    await write({ type: 'keras', path: 'big.json' });
    expect(await refusal(readRunConfigFile(file))).toContain(`is ${MAX_MODEL_JSON_BYTES + 1} bytes, more than the limit of ${MAX_MODEL_JSON_BYTES}`);
    await writeFile(path.join(dir, 'text.json'), 'not json');
    await write({ type: 'keras', path: 'text.json' });
    expect(await refusal(readRunConfigFile(file))).toContain('is not JSON');
    await write({ type: 'keras', path: 'bare.json', topology: topology() });
    expect(await refusal(readRunConfigFile(file))).toContain('model.path and model.topology are both given');
    expect(await refusal(readRunConfigFile(path.join(dir, 'nope.yaml')))).toContain('cannot read config');
  });
});
