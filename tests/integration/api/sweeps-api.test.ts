import { describe, expect, it } from 'vitest';
import { ApiErrorSchema } from '../../../core/api/api-error.ts';
import { SweepDetailSchema, SweepListSchema, type SweepDetail } from '../../../core/api/sweeps.ts';
import { validateSweepConfig } from '../../../core/sweep/sweep-config.ts';
import { coordinatorTrialBackend } from '../../../coordinator/sweep/coordinator-trial-backend.ts';
import { runTrackedSweep } from '../../../coordinator/sweep/run-sweep.ts';
import { syntheticConfig } from '../support/harness.ts';
import { fleetFixture } from '../support/fleet-fixture.ts';
import { slowedTasks } from '../support/slowed-tasks.ts';

const fleet = fleetFixture({ stopActiveRuns: true });

describe('sweeps REST API', () => {
  it('lists a real 3-trial sweep and serves its trials, with the best trial by the asked objective matching the database', async () => {
    // Paced like the sweep-runner test, so that ASHA may stop a trial at its rung; the checks hold either way.
    const { t } = await fleet.start([0, 1].map((i) => ({ name: `w${i}`, tasks: slowedTasks(5) })));
    const base = syntheticConfig({ name: 'unused', total_updates: 8, eval_every: 4, checkpoint_every: 100, max_workers: 1, optimizer: { name: 'sgd', lr: 0.1 } });
    const sweep = validateSweepConfig({
      name: 'api-sweep',
      base,
      space: { 'optimizer.lr': { type: 'grid', values: [0.5, 0.0005, 0.00005] } },
      metric: 'eval_loss',
      mode: 'min',
      max_concurrent: 2,
      searcher: 'grid',
      scheduler: { type: 'asha', grace_period: 4, reduction_factor: 2, max_t: 8 },
    });
    const { sweepId, ...outcome } = await runTrackedSweep(t.db, sweep, coordinatorTrialBackend(t.coordinator));
    const get = (path: string) => fetch(`${t.coordinator.url}${path}`);

    // The list: public (no token), the sweep with its three trials and its stored objective's best trial.
    const listRes = await get('/api/v1/sweeps');
    expect(listRes.status).toBe(200);
    const list = SweepListSchema.parse(await listRes.json());
    expect(list.sweeps).toHaveLength(1);
    expect(list.sweeps[0]).toMatchObject({ id: sweepId, name: 'api-sweep', status: 'finished', algorithm: 'grid+asha', trials: 3, metric: 'eval_loss', mode: 'min', bestRunId: outcome.best!.runId });
    expect(Number.isFinite(list.sweeps[0]!.bestValue)).toBe(true);
    const runIds = (await t.db.prisma.run.findMany({ where: { sweepId }, select: { id: true } })).map((r) => r.id);
    expect(runIds).toHaveLength(3);

    const detail = async (query: string): Promise<SweepDetail> => {
      const res = await get(`/api/v1/sweeps/${sweepId}${query}`);
      expect(res.status).toBe(200);
      return SweepDetailSchema.parse(await res.json());
    };
    const plain = await detail('');
    // Without a query the sweep's own objective (stored with it) ranks the trials.
    expect(plain.sweep).toMatchObject({ id: sweepId, trials: 3, metric: 'eval_loss', mode: 'min', bestRunId: outcome.best!.runId, bestValue: list.sweeps[0]!.bestValue });
    expect(plain.sweep.searchSpace).toEqual({ 'optimizer.lr': { type: 'grid', values: [0.5, 0.0005, 0.00005] } });
    expect(plain.trials.every((tr) => tr.bestValue !== null)).toBe(true);

    for (const mode of ['min', 'max'] as const) {
      const d = await detail(`?metric=eval_loss&mode=${mode}`);
      expect(d.sweep).toMatchObject({ metric: 'eval_loss', mode, trials: 3 });
      expect(d.trials.map((tr) => tr.runId).sort()).toEqual([...runIds].sort());
      // The grid's order: trial t<i> searched the i-th lr.
      expect(Object.fromEntries(d.trials.map((tr) => [tr.trialId, tr.params]))).toEqual({ t0: { 'optimizer.lr': 0.5 }, t1: { 'optimizer.lr': 0.0005 }, t2: { 'optimizer.lr': 0.00005 } });
      const bests: number[] = [];
      for (const tr of d.trials) {
        const run = (await t.db.prisma.run.findUnique({ where: { id: tr.runId } }))!;
        expect(tr).toMatchObject({ name: run.name, status: run.status, step: run.step, totalUpdates: 8 });
        expect(tr.durationMs).toBe(run.endedAt!.getTime() - run.startedAt!.getTime());
        // The last decision is what the trial's Events say: a stop at a rung, else its end.
        const kinds = (await t.coordinator.store.listEvents(tr.runId)).map((e) => e.kind);
        const summary = outcome.trials.find((o) => o.runId === tr.runId)!;
        if (kinds.includes('sweep_trial_stopped')) expect(tr.lastDecision).toMatchObject({ kind: 'stopped', step: summary.stoppedAt, status: summary.status });
        else expect(tr.lastDecision).toMatchObject({ kind: 'ended', step: null, status: 'finished' });
        expect(tr.lastDecision!.value).toBe(summary.lastValue);
        // The best value: the trial's eval_loss points up to the step the scheduler stopped it at.
        const values = (await t.coordinator.store.getMetricHistory(tr.runId, 'eval_loss')).filter((p) => p.step <= (summary.stoppedAt ?? 8)).map((p) => p.value);
        const best = mode === 'min' ? Math.min(...values) : Math.max(...values);
        expect(tr.bestValue).toBe(best);
        bests.push(best);
      }
      const overall = mode === 'min' ? Math.min(...bests) : Math.max(...bests);
      expect(d.sweep.bestValue).toBe(overall);
      expect(d.sweep.bestRunId).toBe(d.trials[bests.indexOf(overall)]!.runId);
      if (mode === 'min') expect(d.sweep.bestRunId).toBe(outcome.best!.runId);
    }

    // Errors: an unknown id is a 404 naming it, a malformed id or objective a 400.
    const notFound = await get('/api/v1/sweeps/nosuchsweep');
    expect(notFound.status).toBe(404);
    expect(ApiErrorSchema.parse(await notFound.json()).error).toEqual({ code: 'RUN_NOT_FOUND', message: 'no sweep with id nosuchsweep' });
    const malformed = await get('/api/v1/sweeps/bad%20id');
    expect(malformed.status).toBe(400);
    expect(ApiErrorSchema.parse(await malformed.json()).error.message).toBe('"bad id" is not a sweep id');
    const noMode = await get(`/api/v1/sweeps/${sweepId}?metric=eval_loss`);
    expect(noMode.status).toBe(400);
    expect(ApiErrorSchema.parse(await noMode.json()).error.message).toMatch(/^mode: "" must be min or max/);
    const badMetric = await get(`/api/v1/sweeps/${sweepId}?metric=a%20b&mode=min`);
    expect(badMetric.status).toBe(400);
    expect(ApiErrorSchema.parse(await badMetric.json()).error.message).toMatch(/^metric: "a b" is not a metric key/);
  });
});
