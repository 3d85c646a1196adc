import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MODE_NAMES, TRAINING_MODES, modeOf, modeSetup } from '../../../core/run/modes.ts';
import { defineMode, type ModeRegistry } from '../../../core/run/training-mode.ts';
import { ddpMode } from '../../../core/run/ddp/ddp-mode.ts';
import { runConfigSchema, validateRunConfig } from '../../../core/config/run-config.ts';
import { createDdpUpdateRule } from '../../../core/run/ddp/ddp-update-rule.ts';

const minimal = {
  model: { type: 'mlp' },
  dataset: { name: 'synthetic' },
  optimizer: { name: 'sgd', lr: 0.5 },
  batch_size: 4,
  total_updates: 10,
};

/** A mode defined the way a new one is: one definition, one registry line. */
const echoMode = defineMode({
  name: 'echo',
  summary: 'test mode',
  optionsSchema: z.strictObject({ rounds: z.int().positive().default(3) }),
  createMachine: (setup, snap) => ddpMode.createMachine({ ...setup, options: {} }, snap),
  createUpdateRule: ({ config, paramCount }) => createDdpUpdateRule(config, paramCount),
  workerTask: ({ options }) => ({ kind: 'echo', options: { rounds: options.rounds } }),
});
const withEcho: ModeRegistry = { ...TRAINING_MODES, echo: echoMode };

describe('the mode registry', () => {
  it('is the one list the config enum derives from', () => {
    expect(MODE_NAMES).toEqual(Object.keys(TRAINING_MODES));
    expect(MODE_NAMES).toContain('ddp');
    for (const name of MODE_NAMES) expect(TRAINING_MODES[name].name).toBe(name);
    expect(validateRunConfig(minimal).mode).toBe('ddp');
    expect(() => validateRunConfig({ ...minimal, mode: 'echo' })).toThrow(/mode: .*"ddp"/);
  });

  it('a registered mode is accepted by the config, with its own options section validated and defaulted', () => {
    const cfg = validateRunConfig({ ...minimal, mode: 'echo', echo: { rounds: 5 } }, withEcho);
    expect(cfg.mode).toBe('echo');
    const mode = modeOf(cfg, withEcho);
    expect(mode).toBe(echoMode);
    const setup = modeSetup(mode, cfg, { datasetSize: 100, paramCount: 10 });
    expect(mode.workerTask(setup)).toEqual({ kind: 'echo', options: { rounds: 5 } });
    const defaulted = validateRunConfig({ ...minimal, mode: 'echo' }, withEcho);
    expect(modeSetup(mode, defaulted, { datasetSize: 100, paramCount: 10 }).options).toEqual({ rounds: 3 });
    expect(() => validateRunConfig({ ...minimal, mode: 'echo', echo: { rounds: 0 } }, withEcho)).toThrow(/echo\.rounds/);
    expect(() => validateRunConfig({ ...minimal, mode: 'echo', echo: { roundz: 1 } }, withEcho)).toThrow(/roundz/);
  });

  it("a section of a mode that is not the run's is an error naming both", () => {
    expect(() => validateRunConfig({ ...minimal, mode: 'ddp', echo: {} }, withEcho)).toThrow(/echo: options of mode echo given, but mode is ddp/);
    expect(() => validateRunConfig({ ...minimal, ddp: { x: 1 } })).toThrow(/ddp/);
  });

  it('an unknown mode names the registered ones', () => {
    expect(() => modeOf({ mode: 'gossip' })).toThrow(/mode "gossip" is not one of ddp/);
    expect(() => modeOf({ mode: 'toString' })).toThrow(/not one of/);
    expect(() => runConfigSchema({})).toThrow(/registry is empty/);
  });

  it('ddp asks workers for the gradient task and restores only a snapshot that fits', () => {
    const cfg = validateRunConfig(minimal);
    const ddp = modeOf(cfg);
    expect(ddp).toBe(ddpMode);
    const setup = modeSetup(ddp, cfg, { datasetSize: 40, paramCount: 3 });
    expect(ddp.workerTask(setup)).toEqual({ kind: 'gradient', options: {} });
    const m = ddp.createMachine(setup);
    const again = ddp.createMachine(setup, m.snapshot());
    expect(again.step).toBe(0);
    expect(() => ddp.createMachine(setup, { step: 2 })).toThrow(/ddp machine snapshot: sampler/);
  });
});

describe('registry guards', () => {
  it('a registry key must be its mode name, and a mode may not take a config key or a reserved name', () => {
    expect(() => runConfigSchema({ ...TRAINING_MODES, other: ddpMode })).toThrow(/registry key "other" holds mode "ddp"/);
    const named = (name: string) => ({ [name]: { ...echoMode, name } });
    for (const taken of ['seed', 'mode', 'model', 'external']) expect(() => runConfigSchema(named(taken))).toThrow(new RegExp(`cannot be named "${taken}"`));
  });

  it('an empty section (`ddp:` in YAML) means the defaults', () => {
    expect(validateRunConfig({ ...minimal, ddp: null }).mode).toBe('ddp');
    const cfg = validateRunConfig({ ...minimal, mode: 'echo', echo: null }, withEcho);
    expect(modeSetup(echoMode, cfg, { datasetSize: 1, paramCount: 1 }).options).toEqual({ rounds: 3 });
  });
});
