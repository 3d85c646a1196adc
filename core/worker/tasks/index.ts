import type { WorkerTask } from './worker-task.ts';
import { gradientTask } from './gradient-task.ts';
import { dilocoInnerTask } from './diloco-inner-task.ts';
import { fedavgClientTask } from './fedavg-client-task.ts';

/** The task interfaces, defined in ./worker-task.ts. */
export type { WorkerTask, WorkerTaskContext, WorkerTaskRegistry, WorkerTaskResult } from './worker-task.ts';

/**
 * The one registry of worker tasks, by the `task.kind` a run:assign names. A new mode adds its
 * task file and one line here. `gradient` is also the kind of a run:assign that names none
 * (DEFAULT_TASK_KIND in core/protocol).
 */
export const WORKER_TASKS = {
  gradient: gradientTask,
  'diloco-inner': dilocoInnerTask,
  'fedavg-client': fedavgClientTask,
} satisfies Record<string, WorkerTask>;
