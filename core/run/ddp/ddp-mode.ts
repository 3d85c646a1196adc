import { z } from 'zod';
import { AggregatorSpecSchema, DEFAULT_AGGREGATOR } from '../../aggregate/robust/index.ts';
import { defineMode } from '../training-mode.ts';
import { DdpRunMachine, parseDdpSnapshot } from './ddp-run-machine.ts';
import { createDdpUpdateRule } from './ddp-update-rule.ts';

/**
 * `ddp`: synchronous data parallel, as PyTorch DDP. Each update's global batch
 * (`batch_size` x workers) is split into disjoint slices; every worker returns the gradient of
 * the mean loss on its slice; the coordinator reduces them weighted by sample count, clips,
 * schedules the LR and applies the optimizer to the one master copy of the parameters.
 * Options (`ddp:` section): `aggregator`, a spec of core/aggregate/robust's registry (default
 * `{ name: mean }`, today's weighted mean), e.g. `ddp: { aggregator: { name: trimmed_mean, beta: 0.2 } }`.
 */
export const ddpMode = defineMode({
  name: 'ddp',
  summary: 'synchronous data parallel: slices of each global batch, gradients reduced by sample count, one optimizer step per update',
  // Absent aggregator: the weighted mean (kept optional so `{}` stays a valid options object).
  optionsSchema: z.strictObject({ aggregator: AggregatorSpecSchema.optional() }),
  createMachine: ({ config, datasetSize }, snapshot) =>
    new DdpRunMachine(
      {
        seed: config.seed,
        datasetSize,
        batchSizePerWorker: config.batch_size,
        totalUpdates: config.total_updates,
        minWorkers: config.min_workers,
        evalEvery: config.eval_every,
        checkpointEvery: config.checkpoint_every,
        globalBatchSize: config.global_batch_size,
        sliceBalance: config.slice_balance,
        maxFailedRounds: config.max_failed_rounds,
      },
      snapshot === undefined ? undefined : parseDdpSnapshot(snapshot),
    ),
  createUpdateRule: ({ config, paramCount, options }) => createDdpUpdateRule(config, paramCount, options.aggregator ?? DEFAULT_AGGREGATOR),
  workerTask: () => ({ kind: 'gradient', options: {} }),
});
