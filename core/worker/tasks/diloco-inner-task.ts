import { z } from 'zod';
import { splitBatch } from '../../data/epoch-sampler.ts';
import { createFlatOptimizer, type FlatOptimizer } from '../../optim/flat-optimizer.ts';
import { lrAt, LrScheduleSchema } from '../../optim/lr-schedule.ts';
import { OptimizerSpecSchema } from '../../optim/optimizer-spec.ts';
import type { GradientComputer } from '../../models/gradient-computer.ts';
import { trainLocally } from './local-training.ts';
import type { WorkerTask } from './worker-task.ts';

/** Options of the DiLoCo inner task, as the diloco mode sends them in run:assign. */
export const DilocoInnerTaskOptionsSchema = z.strictObject({
  /** H: inner optimizer steps per round; the round's slice is split into this many mini-batches. */
  inner_steps: z.int().min(1).max(100_000),
  /** The inner optimizer (AdamW in the paper); its state lives on the worker across rounds. */
  optimizer: OptimizerSpecSchema,
  /** Schedule of the inner learning rate over the run's inner steps (round × H + k). */
  lr_schedule: LrScheduleSchema.default({ type: 'constant' }),
  /** Inner steps of the whole run (total rounds × H), the length of the schedule. */
  total_inner_steps: z.int().min(1),
});

/** The parsed options of {@link dilocoInnerTask}. */
export type DilocoInnerTaskOptions = z.infer<typeof DilocoInnerTaskOptionsSchema>;

/**
 * The inner optimizer of each run this process serves, keyed by the worker's model for the run:
 * a worker loop builds a new GradientComputer for every run:assign (a new run, or a rejoin), so a
 * new run or a rejoining worker starts a fresh inner state, and a finished run's state is freed
 * with its model. Keying by the model, not the run id, keeps two workers of one process apart.
 */
const innerOptimizers = new WeakMap<GradientComputer, FlatOptimizer>();

function innerOptimizerOf(computer: GradientComputer, options: DilocoInnerTaskOptions): FlatOptimizer {
  let opt = innerOptimizers.get(computer);
  if (opt === undefined) {
    opt = createFlatOptimizer(options.optimizer, computer.layout.totalSize);
    innerOptimizers.set(computer, opt);
  }
  return opt;
}

/** The inner optimizer state a worker holds for its current run's model (for tests and diagnostics). */
export function dilocoInnerOptimizerOf(computer: GradientComputer): FlatOptimizer | undefined {
  return innerOptimizers.get(computer);
}

/**
 * DiLoCo's worker half: from the coordinator's parameters, H inner steps with the inner optimizer
 * (its state kept across rounds), each on one of H contiguous, near-equal parts of the slice; the
 * result is the parameter delta `start − end` (the outer gradient), with the sample-weighted mean
 * loss and accuracy of the inner steps.
 */
export const dilocoInnerTask: WorkerTask<DilocoInnerTaskOptions> = {
  options: DilocoInnerTaskOptionsSchema,
  mutatesParams: true,
  async run(ctx) {
    const { options } = ctx;
    const h = Math.min(options.inner_steps, ctx.indices.length);
    const batches = splitBatch(Array.from(ctx.indices), h);
    const first = ctx.step * options.inner_steps;
    const { delta, loss, accuracy } = await trainLocally({
      computer: ctx.computer,
      train: ctx.train,
      batches,
      optimizer: innerOptimizerOf(ctx.computer, options),
      lrOf: (k) => lrAt(options.lr_schedule, options.optimizer.lr, first + k, options.total_inner_steps),
    });
    return { values: delta, loss, accuracy };
  },
};
