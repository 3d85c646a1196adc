import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { parseRunConfig, storedRunConfig, validateRunConfig } from '../../../core/config/run-config.ts';
import { parseDurationMs } from '../../../core/config/duration.ts';
import { readCoordinatorEnv } from '../../../coordinator/env.ts';

const minimal = {
  model: { type: 'mlp' },
  dataset: { name: 'synthetic' },
  optimizer: { name: 'adam', lr: 0.001 },
  batch_size: 16,
  total_updates: 10,
};

describe('run config', () => {
  it('the shipped default config is valid and means what the README says', async () => {
    const cfg = parseRunConfig(await readFile('configs/mnist-cnn.yaml', 'utf8'));
    expect(cfg.mode).toBe('ddp');
    expect(cfg.dataset).toMatchObject({ name: 'mnist' });
    expect(cfg.model.type).toBe('cnn');
    expect(cfg.time_limit).toBe(30 * 60 * 1000);
    expect(cfg.step_timeout).toBe(60_000);
  });

  it('fills defaults', () => {
    const cfg = validateRunConfig(minimal);
    expect(cfg).toMatchObject({ name: 'run', experiment: 'default', seed: 42, eval_every: 100, checkpoint_every: 200, min_workers: 1, max_grad_norm: null, time_limit: null, gradient_compression: 'none' });
    expect(cfg.lr_schedule).toEqual({ type: 'constant' });
  });

  it('names the bad field and the allowed values', () => {
    expect(() => validateRunConfig({ ...minimal, optimizer: { name: 'adagrad', lr: 1 } })).toThrow(/optimizer/);
    expect(() => validateRunConfig({ ...minimal, mode: 'magic' })).toThrow(/mode.*ddp/);
    expect(() => validateRunConfig({ ...minimal, batch_size: 0 })).toThrow(/batch_size/);
    expect(() => validateRunConfig({ ...minimal, total_updates: 1.5 })).toThrow(/total_updates/);
    expect(() => validateRunConfig({ ...minimal, bacth_size: 3 })).toThrow(/bacth_size/);
    expect(() => validateRunConfig({ ...minimal, time_limit: 'tomorrow' })).toThrow(/time_limit.*HH:MM:SS/);
    expect(() => validateRunConfig({ ...minimal, gradient_compression: 'int4' })).toThrow(/gradient_compression.*none.*fp16.*bf16/);
    expect(validateRunConfig({ ...minimal, gradient_compression: 'bf16' }).gradient_compression).toBe('bf16');
    try {
      validateRunConfig({ ...minimal, model: { type: 'cnn', conv: [{ filters: -1, kernel_size: 3 }] } });
      expect.unreachable();
    } catch (err) {
      expect((err as { code?: string }).code).toBe('INVALID_CONFIG');
      expect((err as Error).message).toContain('model.conv.0.filters');
    }
  });

  it('rejects YAML that is not a mapping, or not YAML', () => {
    expect(() => parseRunConfig('- a\n- b', 'x.yaml')).toThrow(/x.yaml must be a mapping/);
    expect(() => parseRunConfig('a: [1, 2', 'y.yaml')).toThrow(/y.yaml is not valid YAML/);
  });

  it('parses durations', () => {
    expect(parseDurationMs('24:00:00')).toBe(86_400_000);
    expect(parseDurationMs('01:30')).toBe(90_000);
    expect(parseDurationMs('90s')).toBe(90_000);
    expect(parseDurationMs('1500ms')).toBe(1500);
    expect(parseDurationMs('2h')).toBe(7_200_000);
    expect(parseDurationMs(5)).toBe(5000);
    expect(parseDurationMs('soon')).toBeNull();
    expect(parseDurationMs(-1)).toBeNull();
    expect(parseDurationMs('1:99:00')).toBeNull();
  });
});

describe('coordinator environment', () => {
  it('validates PORT and CROWDTRAIN_TOKEN, naming the variable', () => {
    expect(readCoordinatorEnv({ PORT: '3100' }).PORT).toBe(3100);
    expect(() => readCoordinatorEnv({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => readCoordinatorEnv({ PORT: '70000' })).toThrow(/PORT/);
    expect(() => readCoordinatorEnv({ CROWDTRAIN_TOKEN: 'short' })).toThrow(/CROWDTRAIN_TOKEN must be at least 16/);
    expect(readCoordinatorEnv({ PORT: '' }).PORT).toBeUndefined();
    expect(() => readCoordinatorEnv({ CROWDTRAIN_ADMIN_TOKEN: 'has a space in it, sadly' })).toThrow(/CROWDTRAIN_ADMIN_TOKEN must not contain whitespace/);
  });
});

describe('storedRunConfig', () => {
  it('round-trips through JSON and validation unchanged: durations stay milliseconds (a bare number would be read as seconds)', () => {
    const config = validateRunConfig({
      name: 'durations',
      model: { type: 'mlp', hidden: [4] },
      dataset: { name: 'synthetic' },
      optimizer: { name: 'sgd', lr: 0.1 },
      batch_size: 8,
      total_updates: 10,
      step_timeout: '90s',
      time_limit: '00:05:00',
    });
    expect([config.step_timeout, config.time_limit]).toEqual([90_000, 300_000]);
    const again = validateRunConfig(JSON.parse(JSON.stringify(storedRunConfig(config))) as unknown);
    expect(again).toEqual(config);
    const noLimit = validateRunConfig({ ...JSON.parse(JSON.stringify(storedRunConfig(config))), time_limit: null });
    expect(validateRunConfig(JSON.parse(JSON.stringify(storedRunConfig(noLimit))) as unknown)).toEqual(noLimit);
  });
});
