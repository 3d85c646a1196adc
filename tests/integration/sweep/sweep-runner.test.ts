import { describe, expect, it } from 'vitest';
import { validateSweepConfig } from '../../../core/sweep/sweep-config.ts';
import { AshaScheduler } from '../../../core/sweep/schedulers/asha-scheduler.ts';
import { coordinatorTrialBackend } from '../../../coordinator/sweep/coordinator-trial-backend.ts';
import type { TrialBackend } from '../../../coordinator/sweep/sweep-runner.ts';
import { runTrackedSweep } from '../../../coordinator/sweep/run-sweep.ts';
import { SweepQueries } from '../../../prisma/queries/sweep-queries.ts';
import { syntheticConfig } from '../support/harness.ts';
import { fleetFixture } from '../support/fleet-fixture.ts';
import { slowedTasks } from '../support/slowed-tasks.ts';

const fleet = fleetFixture({ stopActiveRuns: true });

describe('sweep runner on the real coordinator', () => {
  it('runs a 4-trial grid sweep with ASHA, 2 trials at once, each trial a tracked run of the sweep', async () => {
    // Paced at 5 ms a sample (40 ms an update): evaluation runs beside training, so a trial needs
    // some updates left when its rung result arrives for ASHA's stop to land before it finishes.
    const { t } = await fleet.start([0, 1].map((i) => ({ name: `w${i}`, tasks: slowedTasks(5) })));
    const base = syntheticConfig({ name: 'unused', total_updates: 16, eval_every: 4, checkpoint_every: 100, max_workers: 1, optimizer: { name: 'sgd', lr: 0.1 } });
    const sweep = validateSweepConfig({
      name: 'it-sweep',
      base,
      space: { 'optimizer.lr': { type: 'grid', values: [0.5, 0.05, 0.0005, 0.00005] } },
      metric: 'eval_loss',
      mode: 'min',
      max_concurrent: 2,
      searcher: 'grid',
      scheduler: { type: 'asha', grace_period: 4, reduction_factor: 2, max_t: 16 },
    });
    expect(sweep.trials).toBe(4);

    const queries = new SweepQueries(t.db.prisma);
    // The real coordinator backend, with the eval_loss points it delivers logged in order (to replay the scheduler).
    const real = coordinatorTrialBackend(t.coordinator);
    const delivered: { runId: string; step: number; value: number }[] = [];
    let maxActive = 0;
    const backend: TrialBackend = {
      ...real,
      onMetrics: (listener) =>
        real.onMetrics((runId, points) => {
          maxActive = Math.max(maxActive, t.coordinator.activeRuns().length);
          for (const p of points) if (p.key === 'eval_loss') delivered.push({ runId, step: p.step, value: p.value });
          listener(runId, points);
        }),
    };
    // What `npm start -- --sweep FILE` runs: a tracked Sweep row, each trial's run linked as it starts.
    const started: string[] = [];
    const { sweepId, ...outcome } = await runTrackedSweep(t.db, sweep, backend, (trial) => started.push(trial.runId));
    expect(started.sort()).toEqual(outcome.trials.map((tr) => tr.runId).sort());

    expect(outcome.trials).toHaveLength(4);
    expect(outcome.trials.map((tr) => tr.params['optimizer.lr'])).toEqual([0.5, 0.05, 0.0005, 0.00005]);
    expect(maxActive).toBeLessThanOrEqual(2);
    expect(maxActive).toBe(2);

    // Tracking: the sweep row lists the four runs; each run's config carries its trial's lr and name.
    const row = await queries.getSweep(sweepId);
    expect(row).toMatchObject({ name: 'it-sweep', algorithm: 'grid+asha', status: 'finished' });
    expect(row!.runIds.sort()).toEqual(outcome.trials.map((tr) => tr.runId).sort());
    for (const trial of outcome.trials) {
      const run = await t.coordinator.store.getRun(trial.runId);
      const config = (typeof run!.config === 'string' ? JSON.parse(run!.config) : run!.config) as { optimizer: { lr: number }; name: string };
      expect(config.optimizer.lr).toBe(trial.params['optimizer.lr']);
      expect(config.name).toBe(`it-sweep-t${trial.index}`);
      const kinds = (await t.coordinator.store.listEvents(trial.runId)).map((e) => e.kind);
      expect(kinds).toContain('sweep_trial_started');
      expect(kinds).toContain('sweep_trial_ended');
      // A trial the scheduler stopped ended as a stopped run, at a rung below max_t; the others finished all 16 updates.
      if (trial.stoppedAt !== null) {
        expect([4, 8]).toContain(trial.stoppedAt);
        expect(trial.status).toBe('stopped');
        expect(kinds).toContain('sweep_trial_stopped');
      } else {
        expect(trial.status).toBe('finished');
        expect(trial.lastStep).toBe(16);
      }
      // The searcher observed the last eval_loss the trial reported; the best is the minimum in the database.
      const history = (await t.coordinator.store.getMetricHistory(trial.runId, 'eval_loss')).filter((p) => p.step <= (trial.stoppedAt ?? 16));
      expect(trial.bestValue).toBeCloseTo(Math.min(...history.map((p) => p.value)), 6);
    }
    const bestOverTrials = Math.min(...outcome.trials.map((tr) => tr.bestValue!));
    expect(outcome.best!.bestValue).toBe(bestOverTrials);

    // Replaying the delivered points through a fresh scheduler stops exactly the trials the runner stopped, at the same steps.
    const replay = new AshaScheduler({ space: sweep.space, seed: 0, mode: 'min', maxSteps: 16 }, sweep.scheduler.options);
    const trialOf = new Map(outcome.trials.map((tr) => [tr.runId, tr.trialId]));
    const replayStops = new Map<string, number>();
    for (const p of delivered) {
      const id = trialOf.get(p.runId)!;
      if (replayStops.has(id)) continue;
      if (replay.onResult(id, p.step, p.value) === 'stop' && p.step < 16) replayStops.set(id, p.step);
    }
    expect(Object.fromEntries(replayStops)).toEqual(Object.fromEntries(outcome.trials.filter((tr) => tr.stoppedAt !== null).map((tr) => [tr.trialId, tr.stoppedAt])));
    expect(outcome.trials.map((tr) => tr.index)).toEqual([0, 1, 2, 3]);
  });
});
