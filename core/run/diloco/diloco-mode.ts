import { defineMode } from '../training-mode.ts';
import type { DilocoInnerTaskOptions } from '../../worker/tasks/diloco-inner-task.ts';
import { DilocoOptionsSchema } from './diloco-options.ts';
import { createDilocoMachine } from './diloco-run-machine.ts';
import { createDilocoUpdateRule } from './diloco-update-rule.ts';

/**
 * `diloco`: low-communication data parallel (Douillard et al. 2023). Each round every worker
 * takes H inner steps on its own slice with an inner optimizer whose state stays on the worker,
 * and sends its parameter delta; the coordinator averages the deltas by sample count (or combines
 * them with the robust `aggregator` of the `diloco:` section, e.g. `{ name: trimmed_mean, beta: 0.2 }`)
 * and applies an outer Nesterov SGD. Parameters and deltas cross the wire once per H steps instead of once per step.
 */
export const dilocoMode = defineMode({
  name: 'diloco',
  summary: 'low-communication: H local inner-optimizer steps per worker per round, deltas averaged, outer Nesterov SGD',
  optionsSchema: DilocoOptionsSchema,
  createMachine: createDilocoMachine,
  createUpdateRule: ({ options, paramCount }) => createDilocoUpdateRule(options, paramCount),
  workerTask: ({ config, options }) => {
    const task: DilocoInnerTaskOptions = {
      inner_steps: options.inner_steps,
      optimizer: options.inner_optimizer ?? config.optimizer,
      lr_schedule: config.lr_schedule,
      total_inner_steps: config.total_updates * options.inner_steps,
    };
    return { kind: 'diloco-inner', options: { ...task } };
  },
});
