import { describe, expect, it } from 'vitest';
import { validateRunConfig } from '../../../core/config/run-config.ts';
import { TRAINING_MODES } from '../../../core/run/modes.ts';
import { WORKER_TASKS } from '../../../core/worker/tasks/index.ts';
import { readCheckpointFile } from '../../../coordinator/run/checkpoint-file.ts';
import { syntheticConfig } from '../support/harness.ts';
import { fleetFixture } from '../support/fleet-fixture.ts';
import { maxRelativeDifference, trainSingleProcess } from '../support/reference-training.ts';
import { localSgdTask, paramAverageMode } from './param-average-mode.ts';

// The whole of what adding a mode takes besides its one file: one line in each registry.
const modes = { ...TRAINING_MODES, 'param-average': paramAverageMode };
const tasks = { ...WORKER_TASKS, 'local-sgd': localSgdTask };

const fleet = fleetFixture();

const WORKERS = 3;
const UPDATES = 8;
const LR = 0.2;

describe('a mode added in one file and one registry line trains over real sockets', () => {
  it('param-average (one local SGD step, parameters averaged) equals SGD on the same global batches, with tfjs as the oracle', async () => {
    const { t, workers } = await fleet.start(Array.from({ length: WORKERS }, (_, i) => ({ name: `toy-${i}`, tasks })), { modes });
    const common = syntheticConfig({ total_updates: UPDATES, optimizer: { name: 'sgd', lr: LR }, min_workers: WORKERS });
    const config = validateRunConfig({ ...common, mode: 'param-average', 'param-average': { local_lr: LR } }, modes);
    const session = await t.coordinator.startRun(config);
    const outcome = await session.done;
    expect(outcome).toMatchObject({ status: 'finished', step: UPDATES });

    // Workers ran the toy task, not the gradient: each sent parameters, which the rule averaged.
    const run = await t.coordinator.store.getRun(session.runId);
    expect(run?.mode).toBe('param-average');
    const averaged = await t.coordinator.store.getMetricHistory(session.runId, 'averaged_workers');
    expect(averaged.map((p) => p.value)).toEqual(new Array(UPDATES).fill(WORKERS));
    for (const w of workers) expect(w.commits.filter((c) => c.ack.ok).length).toBeGreaterThan(0);

    const ckpt = await t.coordinator.store.findCheckpoint(session.runId, 'latest');
    const content = await readCheckpointFile(ckpt!.path, ckpt!.sha256);
    expect(content.mode).toBe('param-average');
    expect(content.optimizer).toMatchObject({ name: 'param-average', step: UPDATES });

    // Oracle: tfjs's own SGD on the mean loss of the same global batches (no engine code).
    const ref = await trainSingleProcess(common, WORKERS, UPDATES);
    const init = await trainSingleProcess(common, WORKERS, 0);
    expect(maxRelativeDifference(content.params, ref.params)).toBeLessThanOrEqual(1e-4);
    expect(maxRelativeDifference(content.params, init.params)).toBeGreaterThan(1e-2);
  });

  it('a worker without the task refuses the run, naming the kinds it knows, and the refusal is recorded', async () => {
    const { t } = await fleet.start([{ name: 'plain' }], { modes });
    const config = validateRunConfig({ ...syntheticConfig({ total_updates: 2 }), mode: 'param-average' }, modes);
    const session = await t.coordinator.startRun(config);
    const refusal = async () => (await t.coordinator.store.listEvents(session.runId)).find((e) => e.kind === 'join_failed')?.detail as { code: string; message: string } | undefined;
    await expect.poll(refusal, { timeout: 30_000 }).toMatchObject({ code: 'UNKNOWN_TASK' });
    expect((await refusal())?.message).toMatch(/local-sgd.*gradient/);
    await session.stop('stopped', 'test over');
  });

  it('the built-in registry does not know the toy mode: its config is refused naming the modes', () => {
    expect(() => validateRunConfig({ ...syntheticConfig(), mode: 'param-average' })).toThrow(/mode: .*"ddp"/);
  });
});
