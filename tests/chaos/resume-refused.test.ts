import { afterEach, describe, expect, it } from 'vitest';
import { validateRunConfig } from '../../core/config/run-config.ts';
import { startTestCoordinator, syntheticConfig, type TestCoordinator } from '../integration/support/harness.ts';
import { joinTestWorker, type TestWorker } from '../integration/support/test-worker.ts';
import { startApiTestCoordinator, type ApiTestCoordinator } from '../integration/api/api-coordinator.ts';

let t: TestCoordinator | null = null;
let worker: TestWorker | null = null;
const apis: ApiTestCoordinator[] = [];
afterEach(async () => {
  for (const api of apis.splice(0)) await api.cleanup();
  await worker?.close();
  worker = null;
  await t?.cleanup();
  t = null;
});

describe('a resume that cannot be done leaves the run exactly as it was', () => {
  it('a checkpoint that does not fit the run (other parameter count) is refused before metrics are rewound or anything is recorded', async () => {
    t = await startTestCoordinator();
    worker = await joinTestWorker({ url: t.coordinator.url, token: t.token, name: 'resumer' });
    const cfg = syntheticConfig({ total_updates: 12, checkpoint_every: 4, eval_every: 4 });
    const first = await t.coordinator.startRun(validateRunConfig(cfg));
    expect((await first.done).status).toBe('finished');
    const runId = first.runId;
    const store = t.coordinator.store;
    // Metrics after the step-4 checkpoint exist; a real resume from step 4 would rewind them.
    const before = { losses: await store.getMetricHistory(runId, 'train_loss'), events: await store.listEvents(runId), run: await store.getRun(runId) };
    expect(before.losses.length).toBe(12);

    // The run's config now describes another model: its checkpoints no longer fit.
    await t.db.prisma.run.update({ where: { id: runId }, data: { config: JSON.stringify({ ...cfg, model: { type: 'mlp', hidden: [7] } }) } });
    await expect(t.coordinator.resumeRun(runId, 4)).rejects.toThrow(/checkpoint has \d+ parameters, the model of run .* has \d+/);
    expect(t.coordinator.activeRuns()).toEqual([]);
    expect(await store.getMetricHistory(runId, 'train_loss')).toEqual(before.losses);
    expect(await store.listEvents(runId)).toEqual(before.events);
    expect((await store.getRun(runId))?.status).toBe(before.run?.status);

    // With its own config back, the same resume goes through: it rewinds, records and trains on.
    await t.db.prisma.run.update({ where: { id: runId }, data: { config: JSON.stringify(validateRunConfig(cfg)) } });
    const resumed = await t.coordinator.resumeRun(runId, 4);
    expect((await resumed.done).status).toBe('finished');
    expect((await store.listEvents(runId)).filter((e) => e.kind === 'resumed')).toHaveLength(1);
    expect((await store.getMetricHistory(runId, 'train_loss')).map((p) => p.step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it('through REST: a refused POST /api/v1/runs/:id/resume answers with the reason and leaves the records as they were', async () => {
    const api = await startApiTestCoordinator();
    apis.push(api);
    await api.joinWorkers(1);
    const cfg = syntheticConfig({ total_updates: 8, checkpoint_every: 4, eval_every: 4 });
    const first = await api.coordinator.startRun(validateRunConfig(cfg));
    expect((await first.done).status).toBe('finished');
    const store = api.coordinator.store;
    const runId = first.runId;
    const before = { losses: await store.getMetricHistory(runId, 'train_loss'), events: await store.listEvents(runId), run: await store.getRun(runId) };
    // Stopped (resumable) and with a config whose model its checkpoints no longer fit.
    await api.db.prisma.run.update({ where: { id: runId }, data: { status: 'stopped', config: JSON.stringify({ ...cfg, model: { type: 'mlp', hidden: [7] } }) } });
    before.run = await store.getRun(runId);
    const res = await api.call('POST', `/api/v1/runs/${runId}/resume`, { admin: true, body: { from: 4 } });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(JSON.stringify(await res.json())).toMatch(/checkpoint has \d+ parameters/);
    expect(api.coordinator.activeRuns()).toEqual([]);
    expect(await store.getMetricHistory(runId, 'train_loss')).toEqual(before.losses);
    expect(await store.listEvents(runId)).toEqual(before.events);
    expect((await store.getRun(runId))?.status).toBe(before.run?.status);
  });

  it('a database failure halfway through the resume writes changes nothing: the rewind, the resumed Event and the status are one transaction', async () => {
    t = await startTestCoordinator();
    worker = await joinTestWorker({ url: t.coordinator.url, token: t.token, name: 'resumer' });
    const cfg = syntheticConfig({ total_updates: 8, checkpoint_every: 4, eval_every: 4 });
    const first = await t.coordinator.startRun(validateRunConfig(cfg));
    expect((await first.done).status).toBe('finished');
    const store = t.coordinator.store;
    const runId = first.runId;
    const before = { losses: await store.getMetricHistory(runId, 'train_loss'), events: await store.listEvents(runId) };
    expect(before.losses).toHaveLength(8);
    // The database itself refuses the last write of the transaction (marking the run running).
    const prisma = t.db.prisma;
    if (t.db.provider === 'sqlite') {
      await prisma.$executeRawUnsafe(`CREATE TRIGGER refuse_running BEFORE UPDATE OF status ON "Run" WHEN NEW.status = 'running' BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END;`);
    } else {
      await prisma.$executeRawUnsafe(`CREATE OR REPLACE FUNCTION refuse_running() RETURNS trigger AS $$ BEGIN IF NEW.status = 'running' THEN RAISE EXCEPTION 'refused by the test trigger'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`);
      await prisma.$executeRawUnsafe(`CREATE TRIGGER refuse_running BEFORE UPDATE ON "Run" FOR EACH ROW EXECUTE FUNCTION refuse_running()`);
    }
    await expect(t.coordinator.resumeRun(runId, 4)).rejects.toThrow(/could not record the resume of run .*, nothing was changed/);
    expect(t.coordinator.activeRuns()).toEqual([]);
    expect(await store.getMetricHistory(runId, 'train_loss')).toEqual(before.losses);
    expect(await store.listEvents(runId)).toEqual(before.events);
    expect((await store.getRun(runId))?.status).toBe('finished');

    // Without the trigger the same resume goes through (the lease was released).
    await prisma.$executeRawUnsafe(t.db.provider === 'sqlite' ? 'DROP TRIGGER refuse_running' : 'DROP TRIGGER refuse_running ON "Run"');
    const resumed = await t.coordinator.resumeRun(runId, 4);
    expect((await resumed.done).status).toBe('finished');
    expect((await store.listEvents(runId)).filter((e) => e.kind === 'resumed')).toHaveLength(1);
    expect((await store.getMetricHistory(runId, 'train_loss')).map((p) => p.step)).toEqual(Array.from({ length: 8 }, (_, i) => i + 1));
  });
});
