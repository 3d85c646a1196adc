import { CrowdtrainError } from '../../protocol/errors.ts';
import { defineMode } from '../training-mode.ts';
import { ddpMode } from '../ddp/ddp-mode.ts';
import { ShardedOptionsSchema } from './sharded-options.ts';
import { createShardedUpdateRule } from './sharded-update-rule.ts';

/**
 * `sharded`: DDP's rounds (the same slices of the same global batches, the same gradient task),
 * with the optimizer sharded as ZeRO stage 1. The coordinator reduces the workers' gradients range
 * by range and sends each range to the shard owners that hold it (`npm run shard-server`, or a
 * worker started with `--shard-owner`); the owners apply the optimizer to their range and send the
 * new values back, which the next round's workers receive as usual. The coordinator keeps no
 * optimizer state between updates (it gathers it from the owners for a checkpoint).
 */
export const shardedMode = defineMode({
  name: 'sharded',
  summary: 'ZeRO-1: DDP rounds, optimizer state and master params of each range on shard owners (shard-server or --shard-owner)',
  optionsSchema: ShardedOptionsSchema,
  createMachine: ({ config, datasetSize, paramCount }, snapshot) => ddpMode.createMachine({ config, datasetSize, paramCount, options: {} }, snapshot),
  createUpdateRule: (setup) => {
    const owners = setup.services?.shardOwners;
    if (!setup.services || !owners) throw new CrowdtrainError('INVALID_CONFIG', 'mode sharded needs a coordinator that accepts shard owners');
    return createShardedUpdateRule({ runId: setup.services.runId, config: setup.config, options: setup.options, paramCount: setup.paramCount, layout: setup.layout, owners });
  },
  workerTask: () => ({ kind: 'gradient', options: {} }),
});
