import { afterEach, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { validateRunConfig } from '../../core/config/run-config.ts';
import { readCheckpointFile } from '../../coordinator/run/checkpoint-file.ts';
import { startTestCoordinator, syntheticConfig, type TestCoordinator } from './support/harness.ts';
import { maxRelativeDifference } from './support/reference-training.ts';

const dirs: string[] = [];
let live: TestCoordinator[] = [];
afterEach(async () => {
  for (const t of live) await t.stop();
  live = [];
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function open(dataDir?: string): Promise<TestCoordinator> {
  const t = await startTestCoordinator({ dataDir });
  live.push(t);
  if (!dataDir) dirs.push(t.dataDir);
  return t;
}

describe('checkpoint and resume', () => {
  it('an interrupted-and-resumed run has the same loss curve and final params as the uninterrupted one', async () => {
    // Equal slices: two timelines are compared to 1e-5, and throughput slices depend on timing (they
    // change the float32 summation order, not the math: see hetero-fleet.test.ts).
    const cfg = validateRunConfig(syntheticConfig({ total_updates: 20, checkpoint_every: 4, eval_every: 5, min_workers: 2, slice_balance: 'equal' }));

    // Uninterrupted.
    const a = await open();
    await a.joinWorkers(2);
    const runA = await a.coordinator.startRun(cfg);
    expect((await runA.done).status).toBe('finished');
    const lossA = (await a.coordinator.store.getMetricHistory(runA.runId, 'train_loss')).map((p) => p.value);
    const finalA = await a.coordinator.store.findCheckpoint(runA.runId, 'latest');
    const paramsA = (await readCheckpointFile(finalA!.path, finalA!.sha256)).params;

    // Interrupted at step 9 (the coordinator shuts down: it checkpoints on the way out), then resumed.
    const b = await open();
    await b.joinWorkers(2);
    const runB = await b.coordinator.startRun(cfg);
    await new Promise<void>((resolve) => {
      b.coordinator.events.on('update', (u) => {
        if (u.step === 8) resolve();
      });
    });
    await b.stop();
    const stopped = await (async () => {
      const c = await open(b.dataDir);
      const run = await c.coordinator.store.getRun(runB.runId);
      expect(run?.status).toBe('stopped');
      const ckpt = await c.coordinator.store.findCheckpoint(runB.runId, 'latest');
      expect(ckpt!.step).toBeGreaterThanOrEqual(9);
      expect(ckpt!.step).toBeLessThan(20);
      await c.joinWorkers(2);
      const resumed = await c.coordinator.resumeRun(runB.runId);
      // The stored config validates back to the same values (durations stay milliseconds).
      expect(resumed.config).toEqual(cfg);
      const outcome = await resumed.done;
      expect(outcome.status).toBe('finished');
      return c;
    })();
    const lossB = (await stopped.coordinator.store.getMetricHistory(runB.runId, 'train_loss')).map((p) => p.value);
    const steps = (await stopped.coordinator.store.getMetricHistory(runB.runId, 'train_loss')).map((p) => p.step);
    expect(steps).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(lossB).toHaveLength(lossA.length);
    lossB.forEach((l, i) => expect(Math.abs(l - (lossA[i] ?? NaN)), `step ${i + 1}`).toBeLessThanOrEqual(1e-5));
    const finalB = await stopped.coordinator.store.findCheckpoint(runB.runId, 'latest');
    const paramsB = (await readCheckpointFile(finalB!.path, finalB!.sha256)).params;
    expect(maxRelativeDifference(paramsB, paramsA)).toBeLessThanOrEqual(1e-5);
    const events = (await stopped.coordinator.store.listEvents(runB.runId)).map((e) => e.kind);
    expect(events).toContain('resumed');
  });

  it('refuses to resume a run without a checkpoint, naming the run', async () => {
    const t = await open();
    await expect(t.coordinator.resumeRun('no-such-run')).rejects.toThrow(/no run with id no-such-run/);
  });
});
