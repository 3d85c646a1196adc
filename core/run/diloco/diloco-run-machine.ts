import { DdpRunMachine, parseDdpSnapshot } from '../ddp/ddp-run-machine.ts';
import type { MachineSnapshot, RunMachine } from '../run-machine.ts';
import type { ModeSetup } from '../training-mode.ts';
import type { DilocoOptions } from './diloco-options.ts';

/**
 * DiLoCo's rounds are DDP's rounds with H times the samples: every active worker gets
 * `inner_steps × batch_size` sample indices per round (or its throughput share of
 * `inner_steps × global_batch_size`), drawn from the same epoch sampler, so every sample is
 * trained once per epoch, slices of failed workers go back, and the snapshot (round + sampler)
 * is DDP's. One machine step is one outer update; `total_updates` counts outer rounds.
 * @example const machine = createDilocoMachine(setup); machine.dispatch({ type: 'start' });
 */
export function createDilocoMachine({ config, datasetSize, options }: ModeSetup<DilocoOptions>, snapshot?: MachineSnapshot): RunMachine {
  const h = options.inner_steps;
  return new DdpRunMachine(
    {
      seed: config.seed,
      datasetSize,
      batchSizePerWorker: config.batch_size * h,
      totalUpdates: config.total_updates,
      minWorkers: config.min_workers,
      evalEvery: config.eval_every,
      checkpointEvery: config.checkpoint_every,
      globalBatchSize: config.global_batch_size === null ? null : config.global_batch_size * h,
      sliceBalance: config.slice_balance,
      maxFailedRounds: config.max_failed_rounds,
      // A backup would run H inner steps on another worker's slice and move this worker's inner state.
      backup: false,
    },
    snapshot === undefined ? undefined : parseDdpSnapshot(snapshot),
  );
}
