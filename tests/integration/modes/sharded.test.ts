import { io } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { validateRunConfig } from '../../../core/config/run-config.ts';
import type { RunConfigInput } from '../../../core/config/run-config.ts';
import { startShardOwner, type ShardOwner } from '../../../core/shard/shard-owner-client.ts';
import { readCheckpointFile } from '../../../coordinator/run/checkpoint-file.ts';
import { spawn } from 'node:child_process';
import { spawnLocalWorker } from '../../../coordinator/local-workers.ts';
import { syntheticConfig, waitForWorkers, type TestCoordinator } from '../support/harness.ts';
import { fleetFixture } from '../support/fleet-fixture.ts';
import { maxRelativeDifference, trainSingleProcess } from '../support/reference-training.ts';

const fleet = fleetFixture();
let owners: ShardOwner[] = [];
afterEach(async () => {
  await Promise.all(owners.map((o) => o.close()));
  owners = [];
});

const WORKERS = 2;

/** Adam (state to shard), clipping (the global norm must be found across ranges) and a schedule. */
function commonConfig(over: Partial<RunConfigInput> = {}): RunConfigInput {
  return syntheticConfig({
    total_updates: 8,
    min_workers: WORKERS,
    slice_balance: 'equal',
    optimizer: { name: 'adam', lr: 0.01 },
    max_grad_norm: 0.5,
    lr_schedule: { type: 'cosine' },
    eval_every: 100,
    checkpoint_every: 100,
    ...over,
  });
}

async function startOwners(t: TestCoordinator, n: number): Promise<ShardOwner[]> {
  const made = await Promise.all(Array.from({ length: n }, (_, i) => startShardOwner({ url: t.coordinator.url, token: t.token, name: `owner-${owners.length + i}`, connect: io })));
  owners.push(...made);
  return made;
}

async function latestCheckpoint(t: TestCoordinator, runId: string) {
  const ckpt = await t.coordinator.store.findCheckpoint(runId, 'latest');
  return readCheckpointFile(ckpt!.path, ckpt!.sha256);
}

async function events(t: TestCoordinator, runId: string, kind: string) {
  return (await t.coordinator.store.listEvents(runId)).filter((e) => e.kind === kind);
}

describe('mode sharded over real sockets (shard owners on /shard)', () => {
  it('with 2, 3 and 4 owners trains the same parameters as ddp on the same batches, and as tfjs single-process Adam', async () => {
    const common = commonConfig();
    const { t } = await fleet.start(Array.from({ length: WORKERS }, (_, i) => ({ name: `sh-${i}` })));
    const ddp = await t.coordinator.startRun(validateRunConfig({ ...common, name: 'ddp-oracle' }));
    expect((await ddp.done).status).toBe('finished');
    const ddpFinal = await latestCheckpoint(t, ddp.runId);
    const ref = await trainSingleProcess(common, WORKERS, 8);
    expect(maxRelativeDifference(ddpFinal.params, ref.params)).toBeLessThanOrEqual(1e-4);

    for (const n of [2, 3, 4]) {
      await startOwners(t, n - owners.length);
      const run = await t.coordinator.startRun(validateRunConfig({ ...common, name: `sharded-${n}`, mode: 'sharded', sharded: { min_owners: n } }));
      const outcome = await run.done;
      expect(outcome, outcome.reason).toMatchObject({ status: 'finished', step: 8 });
      const final = await latestCheckpoint(t, run.runId);
      expect(final.mode).toBe('sharded');
      let worst = 0;
      for (let i = 0; i < final.params.length; i++) worst = Math.max(worst, Math.abs(final.params[i]! - ddpFinal.params[i]!));
      expect(worst, `${n} owners`).toBeLessThanOrEqual(1e-5);
      // The optimizer state gathered from the owners is the unsharded optimizer's.
      expect(final.optimizer).toMatchObject({ name: 'adam', step: 8 });
      for (const slot of Object.keys(ddpFinal.optimizer.slots)) {
        expect(maxRelativeDifference(final.optimizer.slots[slot]!, ddpFinal.optimizer.slots[slot]!), slot).toBeLessThanOrEqual(1e-4);
      }
      const plan = await events(t, run.runId, 'shard_plan');
      expect(plan).toHaveLength(1);
      expect((plan[0]!.detail as { owners: unknown[] }).owners).toHaveLength(n);
      const owned = owners.reduce((a, o) => a + o.heldValues(), 0);
      expect(owned, 'owners drop their ranges when the run ends').toBe(0);
      const traffic = await t.coordinator.store.getMetricHistory(run.runId, 'shard_bytes_per_owner_max');
      expect(traffic).toHaveLength(8);
      expect(traffic[0]!.value).toBeGreaterThan(0);
    }
  });

  it('an owner that leaves mid-run with replicas: 1 is replaced from its replica: the run goes on and still equals ddp', async () => {
    const common = commonConfig({ total_updates: 10 });
    const { t } = await fleet.start(Array.from({ length: WORKERS }, (_, i) => ({ name: `sr-${i}` })));
    const ddp = await t.coordinator.startRun(validateRunConfig({ ...common, name: 'ddp-oracle' }));
    expect((await ddp.done).status).toBe('finished');
    const ddpFinal = await latestCheckpoint(t, ddp.runId);

    const [victim] = await startOwners(t, 3);
    const run = await t.coordinator.startRun(validateRunConfig({ ...common, mode: 'sharded', sharded: { min_owners: 3, replicas: 1 } }));
    t.coordinator.events.on('update', (u) => {
      if (u.runId === run.runId && u.step === 3) void victim!.close();
    });
    const outcome = await run.done;
    expect(outcome, outcome.reason).toMatchObject({ status: 'finished', step: 10 });
    const final = await latestCheckpoint(t, run.runId);
    let worst = 0;
    for (let i = 0; i < final.params.length; i++) worst = Math.max(worst, Math.abs(final.params[i]! - ddpFinal.params[i]!));
    expect(worst).toBeLessThanOrEqual(1e-5);
    const changes = await events(t, run.runId, 'shard_owner_changed');
    expect(changes).toHaveLength(1);
    expect(JSON.stringify(changes[0]!.detail)).toContain('owner-0');
  });

  it('an owner that leaves with replicas: 0 rewinds the run to its last checkpoint, stated; it goes on on a different number of owners and finishes as ddp does', async () => {
    const common = commonConfig({ total_updates: 10, checkpoint_every: 2 });
    const { t } = await fleet.start(Array.from({ length: WORKERS }, (_, i) => ({ name: `sf-${i}` })));
    const ddp = await t.coordinator.startRun(validateRunConfig({ ...common, name: 'ddp-oracle' }));
    expect((await ddp.done).status).toBe('finished');
    const ddpFinal = await latestCheckpoint(t, ddp.runId);

    const [victim] = await startOwners(t, 2);
    const run = await t.coordinator.startRun(validateRunConfig({ ...common, mode: 'sharded', sharded: { min_owners: 2 } }));
    const final = t.coordinator.outcomeOf(run);
    const replaced: Promise<unknown>[] = [];
    t.coordinator.events.on('update', (u) => {
      if (u.runId !== run.runId || u.step !== 4 || replaced.length > 0) return;
      // One owner is left; two more join: three owners go on with what two trained.
      replaced.push(victim!.close().then(() => startOwners(t, 2)));
    });
    const failed = await run.done;
    expect(failed).toMatchObject({ status: 'failed', rewind: true });
    expect(failed.reason).toMatch(/shard owner owner-0 .*no live replica.*only in the last checkpoint/);
    const outcome = await final;
    expect(outcome, outcome.reason).toMatchObject({ status: 'finished', step: 10 });
    const rewound = await events(t, run.runId, 'run_rewound');
    expect(rewound).toHaveLength(1);
    expect(JSON.stringify(rewound[0]!.detail)).toContain('owner-0');
    // The updates after the checkpoint were trained again, and logged once.
    const losses = await t.coordinator.store.getMetricHistory(run.runId, 'train_loss');
    expect(losses.map((p) => p.step)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    const params = (await latestCheckpoint(t, run.runId)).params;
    let worst = 0;
    for (let i = 0; i < params.length; i++) worst = Math.max(worst, Math.abs(params[i]! - ddpFinal.params[i]!));
    expect(worst).toBeLessThanOrEqual(1e-5);
    const plans = await events(t, run.runId, 'shard_plan');
    expect(plans).toHaveLength(2);
    expect((plans[1]!.detail as { owners: unknown[]; resumedAt: number | null }).resumedAt).toBeGreaterThanOrEqual(2);
    await Promise.all(replaced);
  });

  it('owners as processes: node workers started with --shard-owner and an npm run shard-server process train a sharded run', async () => {
    const { t } = await fleet.start([]);
    const procs = [0, 1].map((i) => spawnLocalWorker(i, { url: t.coordinator.url, token: t.token, backend: 'cpu', namePrefix: 'owner-worker', output: 'ignore', extraArgs: ['--shard-owner'] }));
    const server = spawn(process.execPath, ['--import', 'tsx', 'worker-node/shard-server.ts', '--url', t.coordinator.url, '--name', 'shard-server-1', '--quiet'], {
      cwd: process.cwd(),
      env: { ...process.env, CROWDTRAIN_TOKEN: t.token },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    t.workers.push(...procs, server);
    await waitForWorkers(t.coordinator, 2, procs);
    await expect.poll(() => t.coordinator.shardOwners().map((o) => o.name).sort(), { timeout: 60_000 }).toEqual(['owner-worker-1', 'owner-worker-2', 'shard-server-1']);
    const run = await t.coordinator.startRun(validateRunConfig({ ...commonConfig({ total_updates: 4 }), mode: 'sharded', sharded: { min_owners: 3, layer_aligned: true } }));
    const outcome = await run.done;
    expect(outcome, outcome.reason).toMatchObject({ status: 'finished', step: 4 });
    const plan = await events(t, run.runId, 'shard_plan');
    expect(JSON.stringify(plan[0]!.detail)).toContain('shard-server-1');
  });

  it('a sharded run with no owner fails after owner_wait with a message that says how to start one', async () => {
    const { t } = await fleet.start([{ name: 'sn-0' }]);
    const run = await t.coordinator.startRun(validateRunConfig({ ...commonConfig({ min_workers: 1 }), mode: 'sharded', sharded: { owner_wait: 1 } }));
    const outcome = await run.done;
    expect(outcome.status).toBe('failed');
    expect(outcome.reason).toMatch(/needs 1 shard owner .*0 connected.*npm run shard-server/);
  });
});
