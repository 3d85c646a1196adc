import { io, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { validateRunConfig } from '../../core/config/run-config.ts';
import { workerSocketOptions } from '../../core/worker/socket-transport.ts';
import { SHARD_NAMESPACE } from '../../core/shard/shard-protocol.ts';
import { startShardOwner, type ShardOwner } from '../../core/shard/shard-owner-client.ts';
import { readCheckpointFile } from '../../coordinator/run/checkpoint-file.ts';
import { syntheticConfig, type TestCoordinator } from '../integration/support/harness.ts';
import { fleetFixture } from '../integration/support/fleet-fixture.ts';

const fleet = fleetFixture();
const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

type Answer = 'short-params' | 'nan-params' | 'garbage-ack' | 'error';

/**
 * An owner that loads ranges as asked and answers every step wrongly: params one value short,
 * NaN params, an ack that is not the protocol's, or an error. Real socket.io client, real handshake.
 */
async function joinHostileOwner(t: TestCoordinator, answer: Answer): Promise<{ socket: Socket; updates: () => number[] }> {
  const socket = io(`${t.coordinator.url}${SHARD_NAMESPACE}`, { ...workerSocketOptions(t.token), forceNew: true });
  closers.push(() => socket.disconnect());
  const sizes = new Map<number, number>();
  const updates = new Set<number>();
  socket.on('shard:load', (msg: { index: number; start: number; end: number }, ack: (r: unknown) => void) => {
    sizes.set(msg.index, msg.end - msg.start);
    ack({ ok: true, values: msg.end - msg.start });
  });
  socket.on('shard:step', (msg: { index: number; step: number }, ack: (r: unknown) => void) => {
    updates.add(msg.step);
    const n = sizes.get(msg.index) ?? 1;
    if (answer === 'short-params') ack({ ok: true, updates: msg.step + 1, params: Buffer.from(new Float32Array(n - 1).buffer) });
    else if (answer === 'nan-params') ack({ ok: true, updates: msg.step + 1, params: Buffer.from(new Float32Array(n).fill(Number.NaN).buffer) });
    else if (answer === 'garbage-ack') ack({ ok: true, params: 'not bytes', extra: { deep: [1, 2, 3] } });
    else ack({ ok: false, error: { code: 'INTERNAL', message: 'x'.repeat(100_000) } });
  });
  socket.connect();
  await new Promise<void>((resolve, reject) => {
    socket.once('connect_error', reject);
    socket.once('connect', () => resolve());
  });
  const welcome = (await socket.emitWithAck('owner:hello', { name: `hostile-${answer}` })) as { ok: boolean };
  expect(welcome.ok).toBe(true);
  return { socket, updates: () => [...updates] };
}

async function honestOwner(t: TestCoordinator, name: string): Promise<ShardOwner> {
  const owner = await startShardOwner({ url: t.coordinator.url, token: t.token, name, connect: io });
  closers.push(() => owner.close());
  return owner;
}

const common = () => syntheticConfig({ total_updates: 6, min_workers: 1, slice_balance: 'equal', optimizer: { name: 'adam', lr: 0.01 }, eval_every: 100, checkpoint_every: 100 });

function shardedConfig(over: Record<string, unknown>) {
  return validateRunConfig({ ...common(), mode: 'sharded', sharded: { min_owners: 2, ...over } });
}

describe('hostile shard owners', () => {
  for (const answer of ['short-params', 'nan-params', 'garbage-ack', 'error'] as const) {
    it(`an owner whose steps answer ${answer} is dropped; with replicas: 1 its honest replica carries the run to the same parameters as ddp`, async () => {
      const { t } = await fleet.start([{ name: 'ho-0' }]);
      const ddp = await t.coordinator.startRun(validateRunConfig(common()));
      expect((await ddp.done).status).toBe('finished');
      const ddpCkpt = await t.coordinator.store.findCheckpoint(ddp.runId, 'latest');
      const ddpParams = (await readCheckpointFile(ddpCkpt!.path, ddpCkpt!.sha256)).params;

      // Ids sort the plan: the hostile owner may own ranges or replicate them; either way the honest one holds every range.
      const hostile = await joinHostileOwner(t, answer);
      await honestOwner(t, 'honest');
      const run = await t.coordinator.startRun(shardedConfig({ replicas: 1 }));
      const outcome = await run.done;
      expect(outcome, outcome.reason).toMatchObject({ status: 'finished', step: 6 });
      expect(hostile.updates(), 'dropped after its first wrong answers').toEqual([0]);
      const ckpt = await t.coordinator.store.findCheckpoint(run.runId, 'latest');
      const params = (await readCheckpointFile(ckpt!.path, ckpt!.sha256)).params;
      let worst = 0;
      for (let i = 0; i < params.length; i++) worst = Math.max(worst, Math.abs(params[i]! - ddpParams[i]!));
      expect(worst).toBeLessThanOrEqual(1e-5);
      const changed = (await t.coordinator.store.listEvents(run.runId)).filter((e) => e.kind === 'shard_owner_changed');
      expect(JSON.stringify(changed.map((e) => e.detail))).toContain(`hostile-${answer}`);
    });
  }

  it('with replicas: 0 a range whose only owner answers wrongly fails the run with a reason naming the owner and the problem', async () => {
    const { t } = await fleet.start([{ name: 'ho-1' }]);
    await joinHostileOwner(t, 'short-params');
    await honestOwner(t, 'honest');
    const run = await t.coordinator.startRun(shardedConfig({}));
    const outcome = await run.done;
    expect(outcome.status).toBe('failed');
    expect(outcome.reason).toMatch(/no holder of shard range \d+ .*hostile-short-params.*sent \d+ values, expected \d+/);
    // Nothing half-applied was checkpointed: the run's checkpoints are at steps it finished.
    const run2 = await t.coordinator.store.getRun(run.runId);
    expect(run2?.status).toBe('failed');
  });
});
