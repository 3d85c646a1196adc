import { WORKER_TASKS, type WorkerTask } from '../../../core/worker/tasks/index.ts';

/**
 * The real worker task registry with its gradient task slowed by `msPerSample` per sample of the
 * slice (a slow tab or laptop next to a fast server), for a test worker's `tasks`. Used by the
 * heterogeneous-fleet test and bench.
 * @example await joinTestWorker({ url, token, name: 'slow', tasks: slowedTasks(12) })
 */
export function slowedTasks(msPerSample: number): Record<string, WorkerTask> {
  const gradient = WORKER_TASKS.gradient as WorkerTask;
  return {
    ...WORKER_TASKS,
    gradient: {
      options: gradient.options,
      async run(ctx) {
        await new Promise((resolve) => setTimeout(resolve, msPerSample * ctx.indices.length));
        return gradient.run(ctx);
      },
    },
  };
}
