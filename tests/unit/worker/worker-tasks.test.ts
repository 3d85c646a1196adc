import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { z } from 'zod';
import { parseModelSpec } from '../../../core/models/model-spec.ts';
import { GradientComputer } from '../../../core/models/gradient-computer.ts';
import { DEFAULT_TASK_KIND, RunAssignSchema, type RunAssign } from '../../../core/protocol/messages.ts';
import { WORKER_TASKS, type WorkerTask, type WorkerTaskRegistry } from '../../../core/worker/tasks/index.ts';
import { gradientTask } from '../../../core/worker/tasks/gradient-task.ts';
import { joinTestWorker, type TestWorker } from '../../integration/support/test-worker.ts';
import { FakeCoordinator, type FakeWorkerSocket } from './fake-coordinator.ts';

const model = parseModelSpec({ type: 'mlp', hidden: [4] });
const dataset = { name: 'synthetic' as const, shape: [5], classes: 2, train_size: 32, test_size: 4, seed: 7 };
let paramCount = 0;

let fake: FakeCoordinator | null = null;
let worker: TestWorker | null = null;
afterEach(async () => {
  await worker?.close();
  worker = null;
  await fake?.close();
  fake = null;
});
beforeAll(async () => {
  await tf.setBackend('cpu');
  const gc = GradientComputer.create(model, { inputShape: [5], numClasses: 2, seed: 1 });
  paramCount = gc.layout.totalSize;
  gc.dispose();
});

async function start(tasks?: WorkerTaskRegistry): Promise<{ fake: FakeCoordinator; socket: FakeWorkerSocket }> {
  fake = await FakeCoordinator.start();
  const hello = fake.hellos.next();
  worker = await joinTestWorker({ url: fake.url, token: 'unit-token', tasks });
  return { fake, socket: (await hello).socket };
}

function assignment(task?: RunAssign['task']): RunAssign {
  return { runId: 'rt', name: 'tasks', seed: 1, model, dataset, paramCount, gradientCompression: 'none', ...(task ? { task } : {}) };
}

/** A test task: every value is `fill` (from its options) plus the slice's first index. */
const fillTask: WorkerTask<{ fill: number }> = {
  options: z.strictObject({ fill: z.number() }),
  run(ctx) {
    return Promise.resolve({ values: new Float32Array(ctx.computer.layout.totalSize).fill(ctx.options.fill + (ctx.indices[0] ?? 0)), loss: 0.25, accuracy: 0.5 });
  },
};

describe('the worker task registry', () => {
  it('has the DDP gradient task under the default kind, and a run:assign without a task means it', () => {
    expect(WORKER_TASKS[DEFAULT_TASK_KIND]).toBe(gradientTask);
    const parsed = RunAssignSchema.parse(assignment());
    expect(parsed.task).toEqual({ kind: 'gradient', options: {} });
    expect(RunAssignSchema.safeParse(assignment({ kind: 'has spaces', options: {} })).success).toBe(false);
    expect(RunAssignSchema.safeParse(assignment({ kind: 'k'.repeat(65), options: {} })).success).toBe(false);
  });

  it('refuses an unknown task kind in the ack, naming the kinds this worker knows', async () => {
    const { fake, socket } = await start();
    const ack = await fake.assign(socket, assignment({ kind: 'fedavg-local', options: {} }));
    expect(ack).toMatchObject({ ok: false, error: { code: 'UNKNOWN_TASK' } });
    const message = ack.ok ? '' : ack.error.message;
    expect(message).toContain('"fedavg-local"');
    expect(message).toContain('"gradient"');
  });

  it("refuses a task's invalid options in the ack, naming the field (each task validates its own)", async () => {
    const { fake, socket } = await start({ ...WORKER_TASKS, fill: fillTask });
    const ack = await fake.assign(socket, assignment({ kind: 'fill', options: { fill: 'lots' } }));
    expect(ack).toMatchObject({ ok: false, error: { code: 'INVALID_CONFIG' } });
    expect(ack.ok ? '' : ack.error.message).toMatch(/fill/);
    const gradient = await fake.assign(socket, assignment({ kind: 'gradient', options: { lr: 1 } }));
    expect(gradient).toMatchObject({ ok: false, error: { code: 'INVALID_CONFIG' } });
  });

  it('runs a registered extra kind: its vector is what the loop encodes, chunks and commits', async () => {
    const { fake, socket } = await start({ ...WORKER_TASKS, fill: fillTask });
    const ack = await fake.assign(socket, assignment({ kind: 'fill', options: { fill: 2 } }));
    expect(ack).toMatchObject({ ok: true, runId: 'rt', paramCount });
    fake.sendParams(socket, 'rt', 0, new Float32Array(paramCount));
    fake.step(socket, { runId: 'rt', step: 0, epoch: 0, paramsVersion: 0, indices: new Uint32Array([3, 4]) });
    const c = await fake.commits.next();
    expect(Array.from(new Float32Array(c.bytes.buffer))).toEqual(new Array<number>(paramCount).fill(5));
    expect(c.commit).toMatchObject({ step: 0, sampleCount: 2, loss: 0.25, accuracy: 0.5 });
  });

  it("a replaced kind runs instead of the built-in one; a task that changes the model's parameters gets the coordinator's set again before its next step", async () => {
    const seen: number[] = [];
    const localTraining: WorkerTask = {
      options: z.object({}),
      mutatesParams: true,
      run(ctx) {
        seen.push(ctx.computer.getParams()[0] ?? Number.NaN);
        ctx.computer.setParams(new Float32Array(ctx.computer.layout.totalSize).fill(-1));
        return Promise.resolve({ values: new Float32Array(ctx.computer.layout.totalSize), loss: 0, accuracy: 0 });
      },
    };
    const { fake, socket } = await start({ gradient: localTraining });
    await fake.assign(socket, assignment());
    fake.sendParams(socket, 'rt', 0, new Float32Array(paramCount).fill(0.5));
    for (const step of [0, 1]) {
      fake.step(socket, { runId: 'rt', step, epoch: 0, paramsVersion: 0, indices: new Uint32Array([step]) });
      await fake.commits.next();
    }
    expect(seen).toEqual([0.5, 0.5]);
  });
});
