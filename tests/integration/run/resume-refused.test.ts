import { afterEach, describe, expect, it } from 'vitest';
import { validateRunConfig } from '../../../core/config/run-config.ts';
import { startTestCoordinator, syntheticConfig, type TestCoordinator } from '../support/harness.ts';
import { joinTestWorker, type TestWorker } from '../support/test-worker.ts';

let t: TestCoordinator | null = null;
let worker: TestWorker | null = null;
afterEach(async () => {
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
});
