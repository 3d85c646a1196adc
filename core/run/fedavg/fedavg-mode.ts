import { DEFAULT_AGGREGATOR } from '../../aggregate/robust/index.ts';
import { defineMode } from '../training-mode.ts';
import type { FedavgClientTaskOptions } from '../../worker/tasks/fedavg-client-task.ts';
import { FedavgOptionsSchema } from './fedavg-options.ts';
import { FedavgRunMachine, parseFedavgSnapshot } from './fedavg-run-machine.ts';
import { createFedavgUpdateRule } from './fedavg-update-rule.ts';

/**
 * `fedavg`: federated rounds (McMahan et al. 2017) and their server optimizers (FedAvgM, FedAdam,
 * FedYogi, FedAdagrad; FedProx on the client). Each round a sample of the clients trains locally
 * from the current model and returns its weight delta; the coordinator averages the deltas by
 * sample count (or combines them with the robust `aggregator` of the `fedavg:` section, e.g.
 * `{ name: median }`) and applies the server optimizer. `total_updates` counts rounds.
 */
export const fedavgMode = defineMode({
  name: 'fedavg',
  summary: 'federated rounds: sampled clients train locally, weight deltas averaged by samples, a server optimizer (FedAvg/FedAvgM/FedAdam/FedYogi/FedAdagrad)',
  optionsSchema: FedavgOptionsSchema,
  createMachine: ({ config, options, datasetSize }, snapshot) =>
    new FedavgRunMachine(
      {
        seed: config.seed,
        datasetSize,
        samplesPerClient: options.local_steps * config.batch_size,
        totalRounds: config.total_updates,
        evalEvery: config.eval_every,
        checkpointEvery: config.checkpoint_every,
        fraction: options.fraction,
        clients: options.clients,
        minClients: options.min_clients,
        minWorkers: config.min_workers,
        maxFailedRounds: config.max_failed_rounds,
      },
      snapshot === undefined ? undefined : parseFedavgSnapshot(snapshot),
    ),
  createUpdateRule: ({ options, paramCount }) => createFedavgUpdateRule(options.server_optimizer, paramCount, options.aggregator ?? DEFAULT_AGGREGATOR),
  workerTask: ({ config, options }) => {
    const task: FedavgClientTaskOptions = {
      optimizer: options.client_optimizer ?? config.optimizer,
      batch_size: config.batch_size,
      local_epochs: options.local_epochs,
      proximal_mu: options.proximal_mu,
    };
    return { kind: 'fedavg-client', options: { ...task } };
  },
});
