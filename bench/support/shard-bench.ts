import type { RunConfigInput } from '../../core/config/run-config.ts';
import type { TestCoordinator } from '../../tests/integration/support/harness.ts';

/** Workers in the shard benches (in-process test workers). */
export const SHARD_BENCH_WORKERS = 2;

/**
 * The run config the shard benches (shard-memory, shard-throughput) train: an MNIST MLP
 * 784-256-128-10 with Adam on SHARD_BENCH_WORKERS workers, equal slices, no evaluation or
 * checkpoint during the run; `mode`/`sharded` are added per run.
 */
export function shardBenchConfig(totalUpdates: number): RunConfigInput {
  return {
    experiment: 'bench',
    seed: 11,
    model: { type: 'mlp', hidden: [256, 128] },
    dataset: { name: 'mnist', train_size: 2000, test_size: 500 },
    optimizer: { name: 'adam', lr: 0.001 },
    batch_size: 32,
    total_updates: totalUpdates,
    eval_every: totalUpdates + 1,
    checkpoint_every: totalUpdates + 1,
    min_workers: SHARD_BENCH_WORKERS,
    slice_balance: 'equal',
    step_timeout: '120s',
  };
}

/** Resolves once the coordinator lists exactly `n` shard owners (closed owners must be gone before the next run plans its ranges). */
export async function waitForOwnerCount(t: TestCoordinator, n: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (t.coordinator.shardOwners().length !== n) {
    if (Date.now() > deadline) throw new Error(`expected ${n} shard owners, the coordinator lists ${t.coordinator.shardOwners().length}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
