import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { submitRun } from '../../../coordinator/submit-run.ts';
import { validateRunConfig } from '../../../core/config/run-config.ts';
import { syntheticConfig } from '../support/harness.ts';
import { startApiTestCoordinator, type ApiTestCoordinator } from './api-coordinator.ts';

describe('crowdtrain submit: a second run while one trains', () => {
  let t: ApiTestCoordinator;
  let dir: string;
  beforeAll(async () => {
    t = await startApiTestCoordinator();
    dir = await mkdtemp(path.join(os.tmpdir(), 'crowdtrain-submit-'));
  });
  afterAll(async () => {
    await Promise.all(t.coordinator.activeRuns().map((r) => r.stop('stopped', 'test cleanup')));
    await t.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('starts runs beside the active one; a bad config or token is refused with a reason and starts nothing', async () => {
    const endless = { total_updates: 100_000, eval_every: 100_000, checkpoint_every: 100_000 };
    const first = await t.coordinator.startRun(validateRunConfig(syntheticConfig({ name: 'first', ...endless })));
    const file = path.join(dir, 'second.yaml');
    await writeFile(file, stringify(syntheticConfig({ name: 'second', priority: 2, max_workers: 3, ...endless })));

    const submitted = await submitRun({ config: file, url: t.coordinator.url, adminToken: t.adminToken, dataDir: dir });
    expect(submitted.name).toBe('second');
    expect(submitted.pageUrl).toBe(`${t.coordinator.url}/runs/${submitted.runId}`);
    expect(t.coordinator.activeRuns().map((r) => r.runId)).toEqual([first.runId, submitted.runId]);
    expect(t.coordinator.activeSession(submitted.runId)?.config).toMatchObject({ priority: 2, max_workers: 3 });

    // The token from the data dir works too (as on the coordinator's own machine).
    await writeFile(path.join(dir, 'admin-token'), `${t.adminToken}\n`);
    const third = await submitRun({ config: file, url: t.coordinator.url, dataDir: dir });
    expect(t.coordinator.activeSession(third.runId)).not.toBeNull();

    const runsBefore = (await t.coordinator.store.listRuns({ take: 100 })).length;
    const bad = path.join(dir, 'bad.yaml');
    await writeFile(bad, stringify({ ...syntheticConfig(), max_workers: 1, min_workers: 2 }));
    await expect(submitRun({ config: bad, url: t.coordinator.url, adminToken: t.adminToken, dataDir: dir })).rejects.toThrow(/max_workers \(1\) is below min_workers \(2\)/);
    await expect(submitRun({ config: file, url: t.coordinator.url, adminToken: 'wrong-token-wrong-token', dataDir: dir })).rejects.toThrow(/HTTP 403/);
    await expect(submitRun({ config: path.join(dir, 'missing.yaml'), url: t.coordinator.url, adminToken: t.adminToken, dataDir: dir })).rejects.toThrow(/cannot read config/);
    await expect(submitRun({ config: file, url: t.coordinator.url, dataDir: path.join(dir, 'nowhere') })).rejects.toThrow(/no admin token/);
    expect((await t.coordinator.store.listRuns({ take: 100 })).length).toBe(runsBefore);
  });
});
