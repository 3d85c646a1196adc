import { describe, expect, it } from 'vitest';
import { benchRunConfig, loadRunConfigFile } from '../../../bench/support/bench-run-config.ts';

describe('benchRunConfig', () => {
  it('trains the default experiment at the given global batch, with no evaluation or checkpoint inside the observed updates', async () => {
    const base = await loadRunConfigFile();
    expect(base.model.type).toBe('cnn');
    const c = benchRunConfig(base, { globalBatch: 256, workers: 2, updates: 16 });
    expect(c.batch_size).toBe(128);
    expect(c.total_updates).toBe(17);
    expect(c.eval_every).toBeGreaterThan(c.total_updates);
    expect(c.checkpoint_every).toBeGreaterThan(c.total_updates);
    expect(c.time_limit).toBeNull();
    expect(c.min_workers).toBe(2);
    // Model, data and optimizer are the default experiment's.
    expect(c.model).toEqual(base.model);
    expect(c.dataset).toEqual(base.dataset);
    expect(c.optimizer).toEqual(base.optimizer);
    expect(c.max_grad_norm).toBe(base.max_grad_norm);
  });

  it('refuses a global batch that does not split evenly over the workers, and non-positive counts', async () => {
    const base = await loadRunConfigFile();
    expect(() => benchRunConfig(base, { globalBatch: 256, workers: 3, updates: 4 })).toThrow(/global batch 256 does not split evenly over 3 workers/);
    expect(() => benchRunConfig(base, { globalBatch: 256, workers: 0, updates: 4 })).toThrow(/workers 0/);
    expect(() => benchRunConfig(base, { globalBatch: 256, workers: 1, updates: 0 })).toThrow(/updates 0/);
  });
});
