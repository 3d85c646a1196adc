import { z } from 'zod';
import { createFlatOptimizer } from '../../optim/flat-optimizer.ts';
import { AdamSpecSchema, AdamwSpecSchema, SgdSpecSchema } from '../../optim/optimizer-spec.ts';
import { trainLocally } from './local-training.ts';
import type { WorkerTask } from './worker-task.ts';

/** Options of the FedAvg client task, as the fedavg mode sends them in run:assign. */
export const FedavgClientTaskOptionsSchema = z.strictObject({
  /** The client optimizer, created fresh every round (client state does not outlive a round, as in FedAvg). */
  optimizer: z.discriminatedUnion('name', [SgdSpecSchema, AdamSpecSchema, AdamwSpecSchema]),
  /** Samples per local mini-batch. */
  batch_size: z.int().min(1).max(65_536),
  /** Passes over the round's slice (E). */
  local_epochs: z.int().min(1).max(1000),
  /** FedProx's μ: the gradient gets `μ (w − w_round)` added; 0 is plain FedAvg. */
  proximal_mu: z.number().min(0).finite(),
});

/** The parsed options of {@link fedavgClientTask}. */
export type FedavgClientTaskOptions = z.infer<typeof FedavgClientTaskOptionsSchema>;

/**
 * A FedAvg client's round: from the coordinator's parameters, `local_epochs` passes over its slice
 * in consecutive mini-batches of `batch_size` (the slice is already a seeded random draw, so every
 * pass takes it in the same order) with a fresh client optimizer at a constant learning rate, and
 * FedProx's proximal term when `proximal_mu` > 0. Returns the weight delta `start − end`.
 */
export const fedavgClientTask: WorkerTask<FedavgClientTaskOptions> = {
  options: FedavgClientTaskOptionsSchema,
  mutatesParams: true,
  async run(ctx) {
    const { options } = ctx;
    const slice = Array.from(ctx.indices);
    const pass: number[][] = [];
    for (let k = 0; k < slice.length; k += options.batch_size) pass.push(slice.slice(k, k + options.batch_size));
    const batches = Array.from({ length: options.local_epochs }, () => pass).flat();
    const { delta, loss, accuracy } = await trainLocally({
      computer: ctx.computer,
      train: ctx.train,
      batches,
      optimizer: createFlatOptimizer(options.optimizer, ctx.computer.layout.totalSize),
      lrOf: () => options.optimizer.lr,
      proximalMu: options.proximal_mu,
    });
    return { values: delta, loss, accuracy };
  },
};
