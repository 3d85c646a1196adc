import { io } from 'socket.io-client';
import { afterAll, describe, expect, it } from 'vitest';

import { validateRunConfig } from '../../core/config/run-config.ts';
import { startShardOwner, type ShardOwner } from '../../core/shard/shard-owner-client.ts';
import { readCheckpointFile } from '../../coordinator/run/checkpoint-file.ts';
import { syntheticConfig } from '../integration/support/harness.ts';
import { chromiumAvailable } from './support/browser-harness.ts';
import { e2eSuite } from './support/e2e-suite.ts';
import { requireChromium } from '../support/require-dependency.ts';

const hasChromium = await chromiumAvailable();

const suite = e2eSuite({ webgpu: false });
const owners: ShardOwner[] = [];
afterAll(async () => {
  await Promise.all(owners.map((o) => o.close()));
});

/** `[start, end)` as the shard plan table prints a range. */
function parseRange(text: string | null): { start: number; end: number } {
  const m = /^\[(\d+), (\d+)\)$/.exec((text ?? '').trim());
  if (!m) throw new Error(`not a range: ${JSON.stringify(text)}`);
  return { start: Number(m[1]), end: Number(m[2]) };
}

describe.skipIf(!hasChromium)(requireChromium(hasChromium).title('the shard plan on the dashboard (mode: sharded)'), () => {
  it('shows each owner with a range tiling the parameter vector on the run page, and the connected owners on /fleet', async () => {
    const { url, token } = suite.env;
    owners.push(...(await Promise.all(['owner-a', 'owner-b'].map((name) => startShardOwner({ url, token, name, connect: io })))));
    const [a, b] = owners as [ShardOwner, ShardOwner];
    await suite.env.joinNodeWorkers(1);
    const config = syntheticConfig({ name: 'e2e-shard-plan', total_updates: 3, eval_every: 100, checkpoint_every: 100, optimizer: { name: 'adam', lr: 0.01 } });
    const run = await suite.env.coordinator.startRun(validateRunConfig({ ...config, mode: 'sharded', sharded: { min_owners: 2 } }));
    const outcome = await run.done;
    expect(outcome, outcome.reason).toMatchObject({ status: 'finished', step: 3 });
    // The parameter count from the final checkpoint, not from the Events the page reads.
    const ckpt = await suite.env.coordinator.store.findCheckpoint(run.runId, 'latest');
    const paramCount = (await readCheckpointFile(ckpt!.path, ckpt!.sha256)).params.length;

    const page = await suite.browser.newPage();
    await page.goto(`${url}/runs/${run.runId}`);
    const rows = page.getByTestId('shard-plan').getByTestId('shard-owner-row');
    await rows.first().waitFor();
    await expect.poll(() => rows.count()).toBe(2);
    const names = await rows.getByTestId('shard-owner-name').allTextContents();
    expect(names.map((n) => n.trim()).sort()).toEqual([`owner-a (${a.ownerId})`, `owner-b (${b.ownerId})`]);
    const ranges = (await rows.getByTestId('shard-owner-range').allTextContents()).map(parseRange).sort((x, y) => x.start - y.start);
    expect(ranges[0]!.start).toBe(0);
    expect(ranges[0]!.end).toBe(ranges[1]!.start);
    expect(ranges[1]!.end).toBe(paramCount);
    expect(await page.getByTestId('shard-plan-summary').textContent()).toMatch(/ranges, 0 replicas per range/);
    expect(await page.getByTestId('shard-owner-change').count()).toBe(0);

    await page.goto(`${url}/fleet`);
    const listed = page.getByTestId('shard-owners');
    await listed.waitFor();
    await expect.poll(async () => (await listed.locator('tbody tr td:first-child').allTextContents()).sort()).toEqual(['owner-a', 'owner-b']);
    await page.close();
  });
});
