import { describe, expect, it } from 'vitest';
import type { RunConfig } from '../../../core/config/run-config.ts';
import { validateSweepConfig } from '../../../core/sweep/sweep-config.ts';
import { SweepRunner, type TrialBackend, type TrialMetricPoint } from '../../../coordinator/sweep/sweep-runner.ts';

/**
 * A scripted trial backend: run k reports eval_loss = |log10(lr) + 2| + 1/step at every step,
 * one step per macrotask, until total_updates or stopRun. It records the concurrency it saw.
 */
function scriptedBackend() {
  const listeners = new Set<(runId: string, points: readonly TrialMetricPoint[]) => void>();
  const active = new Set<string>();
  const stopped = new Set<string>();
  const started: RunConfig[] = [];
  let maxActive = 0;
  let n = 0;
  const backend: TrialBackend = {
    startRun(config) {
      const runId = `run-${n++}`;
      started.push(config);
      active.add(runId);
      maxActive = Math.max(maxActive, active.size);
      const lr = (config.optimizer as { lr: number }).lr;
      const done = (async () => {
        for (let step = 1; step <= config.total_updates; step++) {
          await new Promise((r) => setTimeout(r, 0));
          if (stopped.has(runId)) {
            active.delete(runId);
            return { status: 'stopped' as const, step: step - 1, reason: 'stopped' };
          }
          for (const l of listeners) l(runId, [{ key: 'train_loss', step, value: 9 }, { key: 'eval_loss', step, value: Math.abs(Math.log10(lr) + 2) + 1 / step }]);
        }
        active.delete(runId);
        return { status: 'finished' as const, step: config.total_updates, reason: 'done' };
      })();
      return Promise.resolve({ runId, done });
    },
    stopRun(runId) {
      stopped.add(runId);
      return Promise.resolve();
    },
    onMetrics(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return { backend, started, maxActive: () => maxActive, listeners };
}

const base = { model: { type: 'mlp' }, dataset: { name: 'synthetic' }, optimizer: { name: 'sgd', lr: 0.1 }, batch_size: 4, total_updates: 12 };

describe('sweep runner (scripted backend)', () => {
  it('keeps max_concurrent trials in flight, stops what ASHA stops, and the searcher observes each trial’s last value', async () => {
    const sweep = validateSweepConfig({
      name: 's',
      base,
      space: { 'optimizer.lr': { type: 'loguniform', low: 1e-4, high: 1 } },
      metric: 'eval_loss',
      mode: 'min',
      trials: 9,
      max_concurrent: 3,
      seed: 1,
      searcher: { type: 'tpe', n_startup_trials: 4 },
      scheduler: { type: 'asha', grace_period: 1, reduction_factor: 3 },
    });
    const s = scriptedBackend();
    const runner = new SweepRunner(sweep, s.backend);
    const outcome = await runner.run();
    expect(outcome.trials).toHaveLength(9);
    expect(s.maxActive()).toBe(3);
    expect(s.listeners.size).toBe(0);
    expect(s.started.map((c) => c.name)).toEqual(Array.from({ length: 9 }, (_, i) => `s-t${i}`));
    const searcherState = runner.state().searcher as { trials: { id: string; status: string; value: number | null }[] };
    for (const trial of outcome.trials) {
      expect(trial.params['optimizer.lr']).toBe((s.started[trial.index]!.optimizer as { lr: number }).lr);
      expect(searcherState.trials.find((r) => r.id === trial.trialId)).toMatchObject({ status: 'done', value: trial.lastValue });
      if (trial.stoppedAt !== null) {
        expect(trial.status).toBe('stopped');
        expect([1, 3, 9]).toContain(trial.stoppedAt);
        // Nothing after the stop decision is taken into account.
        expect(trial.lastStep).toBe(trial.stoppedAt);
      } else {
        expect(trial.status).toBe('finished');
        expect(trial.lastStep).toBe(12);
      }
    }
    expect(outcome.trials.some((tr) => tr.stoppedAt !== null)).toBe(true);
    const best = Math.min(...outcome.trials.map((tr) => tr.bestValue!));
    expect(outcome.best!.bestValue).toBe(best);
  });

  it('runs a grid to its end even when trials is larger than what is left', async () => {
    const sweep = validateSweepConfig({ name: 'g', base, space: { 'optimizer.lr': { type: 'grid', values: [0.1, 0.01] } }, metric: 'eval_loss', mode: 'min', searcher: 'grid', max_concurrent: 4 });
    const s = scriptedBackend();
    const outcome = await new SweepRunner(sweep, s.backend).run();
    expect(outcome.trials.map((tr) => [tr.params['optimizer.lr'], tr.status])).toEqual([
      [0.1, 'finished'],
      [0.01, 'finished'],
    ]);
    expect(outcome.best!.params['optimizer.lr']).toBe(0.01);
  });

  it('refuses PBT, which needs a run started from another run’s checkpoint', () => {
    const sweep = validateSweepConfig({ name: 'p', base, space: { 'optimizer.lr': { type: 'uniform', low: 0.01, high: 0.1 } }, metric: 'eval_loss', mode: 'min', trials: 4, scheduler: { type: 'pbt', perturbation_interval: 4 } });
    expect(() => new SweepRunner(sweep, scriptedBackend().backend)).toThrow(/pbt: the sweep runner cannot yet start a trial from another trial's checkpoint/);
  });
});
