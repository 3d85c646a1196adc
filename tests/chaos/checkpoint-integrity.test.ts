import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { validateRunConfig, type RunConfigInput } from '../../core/config/run-config.ts';
import { decodeCheckpoint, encodeCheckpoint, type CheckpointContent } from '../../coordinator/run/checkpoint-file.ts';
import type { SkippedCheckpoint } from '../../coordinator/run/run-checkpointer.ts';
import { syntheticConfig, testDatabaseUrl, type TestCoordinator } from '../integration/support/harness.ts';
import { chaosFixture } from './support/chaos-fixture.ts';

const CLI = path.resolve('coordinator/cli.ts');

const chaos = chaosFixture();

/** A finished run of `over` (synthetic, one in-process worker): checkpoints at every `checkpoint_every`. */
async function finishedRun(over: Partial<RunConfigInput>) {
  const t = await chaos.start();
  const worker = await chaos.join({ name: 'ckpt' });
  const cfg = syntheticConfig(over);
  const run = await t.coordinator.startRun(validateRunConfig(cfg));
  expect((await run.done).status).toBe('finished');
  return { t, worker, runId: run.runId, store: t.coordinator.store };
}

/** Everything a failed resume must leave as it was. */
async function records(c: TestCoordinator, runId: string) {
  const store = c.coordinator.store;
  return {
    losses: await store.getMetricHistory(runId, 'train_loss'),
    events: await store.listEvents(runId),
    status: (await store.getRun(runId))?.status,
    checkpoints: await store.listCheckpoints(runId),
  };
}

/** Rewrites a checkpoint with `edit` applied and its database sha256 recomputed, so only the content check can refuse it. */
async function tamper(c: TestCoordinator, runId: string, step: number, edit: (content: CheckpointContent) => void) {
  const row = await c.coordinator.store.findCheckpoint(runId, step);
  expect(row).not.toBeNull();
  const content = decodeCheckpoint(await readFile(row!.path));
  edit(content);
  const buf = encodeCheckpoint(content);
  await writeFile(row!.path, buf);
  await c.db.prisma.checkpoint.update({ where: { id: row!.id }, data: { sha256: createHash('sha256').update(buf).digest('hex'), sizeBytes: BigInt(buf.length) } });
}

async function flipLastByte(file: string) {
  const buf = await readFile(file);
  buf.writeUInt8(buf.readUInt8(buf.length - 1) ^ 0xff, buf.length - 1);
  await writeFile(file, buf);
}

describe('checkpoints with non-finite values', () => {
  it('NaN parameters or an Infinity optimizer slot (sha256 recomputed) are refused on resume, naming array and index, and the run is untouched', async () => {
    const { t, runId } = await finishedRun({ total_updates: 12, checkpoint_every: 4, eval_every: 4 });
    await tamper(t, runId, 8, (c) => {
      c.params[3] = Number.NaN;
      c.params[5] = Number.POSITIVE_INFINITY;
    });
    let slotName = '';
    await tamper(t, runId, 4, (c) => {
      slotName = Object.keys(c.optimizer.slots).sort()[0]!;
      c.optimizer.slots[slotName]![2] = Number.NEGATIVE_INFINITY;
    });
    const before = await records(t, runId);
    expect(before.losses).toHaveLength(12);

    await expect(t.coordinator.resumeRun(runId, 8)).rejects.toThrow(/params\[3\] is NaN/);
    await expect(t.coordinator.resumeRun(runId, 4)).rejects.toThrow(new RegExp(`optimizer slot ${slotName}\\[2\\] is -Infinity`));
    expect(t.coordinator.activeRuns()).toEqual([]);
    expect(await records(t, runId)).toEqual(before);
  });
});

describe('resume from latest falls back to the newest valid checkpoint', () => {
  it('skips a corrupt and a torn checkpoint, says so in the resumed Event, while --resume-from that step stays strict', async () => {
    const { t, runId, store } = await finishedRun({ total_updates: 12, checkpoint_every: 4, eval_every: 4 });
    const latest = await store.findCheckpoint(runId, 'latest');
    expect(latest?.step).toBe(12);
    const at8 = await store.findCheckpoint(runId, 8);
    await flipLastByte(latest!.path);
    await truncate(at8!.path, 100);
    const before = await records(t, runId);

    // Explicit steps are strict: refused, nothing recorded.
    await expect(t.coordinator.resumeRun(runId, 12)).rejects.toThrow(/corrupt: sha256/);
    await expect(t.coordinator.resumeRun(runId, 8)).rejects.toThrow(/corrupt: sha256/);
    expect(await records(t, runId)).toEqual(before);

    const told: SkippedCheckpoint[][] = [];
    const resumed = await t.coordinator.resumeRun(runId, 'latest', { onSkipped: (s) => told.push(s) });
    expect((await resumed.done).status).toBe('finished');
    expect(told).toHaveLength(1);
    expect(told[0]!.map((s) => s.step)).toEqual([12, 8]);
    const event = (await store.listEvents(runId)).filter((e) => e.kind === 'resumed');
    expect(event).toHaveLength(1);
    expect(event[0]!.detail).toMatchObject({ fromStep: 4, which: 'latest', skipped: [{ step: 12 }, { step: 8 }] });
    const skipped = (event[0]!.detail as { skipped: SkippedCheckpoint[] }).skipped;
    expect(skipped[0]!.reason).toMatch(/corrupt: sha256/);
    expect(skipped[1]!.reason).toMatch(/corrupt: sha256/);
    expect((await store.getMetricHistory(runId, 'train_loss')).map((p) => p.step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it('a missing latest file and a NaN one are skipped too; with none valid the resume is refused listing each', async () => {
    const { t, runId, store } = await finishedRun({ total_updates: 8, checkpoint_every: 4, eval_every: 4 });
    await rm((await store.findCheckpoint(runId, 'latest'))!.path);
    await tamper(t, runId, 4, (c) => {
      c.params[0] = Number.NaN;
    });
    const before = await records(t, runId);
    await expect(t.coordinator.resumeRun(runId)).rejects.toThrow(/no valid checkpoint to resume from: step 8: cannot read .*; step 4: .*params\[0\] is NaN/);
    expect(await records(t, runId)).toEqual(before);
  });

  it('the CLI prints what it skipped', async () => {
    const { t, worker, runId, store } = await finishedRun({ total_updates: 8, checkpoint_every: 4, eval_every: 4 });
    await flipLastByte((await store.findCheckpoint(runId, 'latest'))!.path);
    await worker.close();
    await t.stop();
    const env = { ...process.env, CROWDTRAIN_TOKEN: t.token, DATABASE_URL: await testDatabaseUrl(t.dataDir) };
    const args = ['--port', '0', '--data-dir', t.dataDir, '--no-dashboard', '--local-workers', '1', '--worker-backend', 'cpu', '--exit-when-done', '--resume', runId];
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'start', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, out).toBe(0);
    expect(out).toMatch(/skipped the checkpoint at step 8: .*corrupt: sha256/);
    expect(out).toMatch(/resumed run/);
    expect(out).toMatch(/finished at step 8/);
  });
});

describe('checkpoint retention', () => {
  it('keep_checkpoints: 3 keeps exactly the newest 3 checkpoints plus the best, files and rows', async () => {
    const { t, runId, store } = await finishedRun({ total_updates: 20, checkpoint_every: 2, eval_every: 2, keep_checkpoints: 3 });
    const rows = await store.listCheckpoints(runId);
    const newest = [...rows].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime()).slice(0, 3);
    const best = rows.find((r) => r.isBest);
    expect(best).toBeDefined();
    const expected = new Set([...newest.map((r) => r.id), best!.id]);
    expect(new Set(rows.map((r) => r.id))).toEqual(expected);
    expect(rows.length).toBe(newest.some((r) => r.isBest) ? 3 : 4);
    const files = (await readdir(path.join(t.dataDir, 'checkpoints', runId))).sort();
    expect(files).toEqual([...new Set(rows.map((r) => path.basename(r.path)))].sort());
    // The newest one is step 20, and a resume from it still works.
    expect(newest[0]!.step).toBe(20);
    const resumed = await t.coordinator.resumeRun(runId);
    expect((await resumed.done).status).toBe('finished');
  });

  it('keep_checkpoints: null keeps all', async () => {
    const { t, runId, store } = await finishedRun({ total_updates: 14, checkpoint_every: 2, eval_every: 100, keep_checkpoints: null });
    const steps = [...new Set((await store.listCheckpoints(runId)).map((r) => r.step))];
    expect(steps).toEqual([2, 4, 6, 8, 10, 12, 14]);
    expect(await readdir(path.join(t.dataDir, 'checkpoints', runId))).toHaveLength(7);
  });
});
