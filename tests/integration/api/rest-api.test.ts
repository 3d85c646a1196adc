import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateAdminToken } from '../../../coordinator/http/admin-auth.ts';
import {
  ApiErrorSchema,
  CheckpointListSchema,
  CreatedRunSchema,
  HealthSchema,
  LiveFleetSchema,
  LogResultSchema,
  MetricHistorySchema,
  MetricKeysSchema,
  ModelBodySchema,
  ModelListSchema,
  ResumeResultSchema,
  RunDetailSchema,
  RunEventsSchema,
  RunFleetSchema,
  RunListSchema,
  StopResultSchema,
  VersionBodySchema,
} from '../../../core/api/index.ts';
import { syntheticConfig } from '../support/harness.ts';
import { startApiTestCoordinator, type ApiTestCoordinator } from './api-coordinator.ts';

/** The error of a failed response, parsed with core/api's ApiErrorSchema (what the dashboard reads). */
async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  return ApiErrorSchema.parse(await res.json()).error;
}

/** A response body parsed with the core/api schema the dashboard uses for it (throws, naming the field, on drift). */
async function bodyOf<T>(res: Response | Promise<Response>, schema: { parse(raw: unknown): T }): Promise<T> {
  return schema.parse(await (await res).json());
}

describe('admin token', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('is generated at first start, kept in the data dir (0600), and CROWDTRAIN_ADMIN_TOKEN wins', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'crowdtrain-admin-'));
    dirs.push(dir);
    const first = await loadOrCreateAdminToken(dir);
    expect(first.source).toBe('generated');
    expect(first.token.length).toBeGreaterThanOrEqual(16);
    expect((await stat(path.join(dir, 'admin-token'))).mode & 0o777).toBe(0o600);
    const again = await loadOrCreateAdminToken(dir);
    expect(again).toEqual({ token: first.token, source: 'file' });
    expect(await loadOrCreateAdminToken(dir, 'an-admin-token-from-env')).toEqual({ token: 'an-admin-token-from-env', source: 'env' });
    await expect(loadOrCreateAdminToken(dir, 'short')).rejects.toThrow(/CROWDTRAIN_ADMIN_TOKEN must be at least 16 characters/);
  });
});

describe('REST API over real HTTP', () => {
  let t: ApiTestCoordinator;
  beforeAll(async () => {
    t = await startApiTestCoordinator();
  });
  afterAll(async () => {
    await t.cleanup();
  });
  afterEach(async () => {
    await Promise.all(t.coordinator.activeRuns().map((run) => run.stop('stopped', 'test cleanup')));
  });

  it('refuses every write without the admin token (401) or with a wrong one (403), with a JSON message; reads stay public', async () => {
    const writes: [string, string][] = [
      ['POST', '/api/v1/runs'],
      ['POST', '/api/v1/runs/external'],
      ['POST', '/api/v1/runs/some-run/log'],
      ['POST', '/api/v1/runs/some-run/stop'],
      ['POST', '/api/v1/runs/some-run/end'],
      ['POST', '/api/v1/runs/some-run/resume'],
      ['POST', '/api/v1/models'],
      ['POST', '/api/v1/models/mnist/versions'],
      ['PUT', '/api/v1/models/mnist/aliases/champion'],
    ];
    for (const [method, route] of writes) {
      const none = await t.call(method, route, { body: {} });
      expect(none.status, `${method} ${route} without a token`).toBe(401);
      expect((await errorOf(none)).message).toMatch(/admin token/);
      const malformed = await t.call(method, route, { body: {}, admin: 'Basic abc' });
      expect(malformed.status).toBe(401);
      expect((await errorOf(malformed)).message).toMatch(/Bearer/);
      const wrong = await t.call(method, route, { body: {}, admin: 'Bearer not-the-admin-token-at-all' });
      expect(wrong.status, `${method} ${route} with a wrong token`).toBe(403);
      expect(await errorOf(wrong)).toEqual({ code: 'BAD_TOKEN', message: expect.stringMatching(/wrong admin token/) as unknown });
    }
    const reads = await t.call('GET', '/api/v1/runs');
    expect(reads.status).toBe(200);
    expect(await t.coordinator.store.searchRuns({})).toMatchObject({ total: 0 });
  });

  it('routes: /healthz, JSON 404 for an unknown API path, 405 naming the allowed methods, 400 for a bad id or bad percent-encoding, HEAD like GET', async () => {
    const health = await t.call('GET', '/healthz');
    expect(await bodyOf(health, HealthSchema)).toEqual({ ok: true });
    expect((await t.call('POST', '/healthz')).status).toBe(200);

    const unknown = await t.call('GET', '/api/v1/no-such-thing');
    expect(unknown.status).toBe(404);
    expect(await errorOf(unknown)).toEqual({ code: 'INVALID_MESSAGE', message: 'no API route /api/v1/no-such-thing' });
    expect((await t.call('POST', '/api/v1/no-such-thing', { admin: true })).status).toBe(404);

    const wrongMethod = await t.call('DELETE', '/api/v1/runs');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET, HEAD, POST');
    expect((await errorOf(wrongMethod)).message).toBe('DELETE is not allowed on /api/v1/runs (allowed: GET, HEAD, POST)');
    const postStatus = await t.call('POST', '/api/v1/status');
    expect(postStatus.status).toBe(405);
    expect(postStatus.headers.get('allow')).toBe('GET, HEAD');

    const badId = await t.call('GET', '/api/v1/runs/not%20an%20id/events');
    expect(badId.status).toBe(400);
    expect((await errorOf(badId)).message).toBe('"not an id" is not a run id');
    const badEncoding = await t.call('GET', '/api/v1/runs/%E0%A4%A/events');
    expect(badEncoding.status).toBe(400);
    expect((await errorOf(badEncoding)).message).toMatch(/%E0%A4%A.*percent-encoding/);
    const missing = await t.call('GET', '/api/v1/runs/no-such-run/events');
    expect(missing.status).toBe(404);
    expect(await errorOf(missing)).toEqual({ code: 'RUN_NOT_FOUND', message: 'no run with id no-such-run' });

    const head = await t.call('HEAD', '/api/v1/runs');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toMatch(/application\/json/);
    expect(await head.text()).toBe('');
  });

  it('an external script creates a run, logs batches of metrics and params, reads the history back and ends the run', async () => {
    const created = await t.call('POST', '/api/v1/runs/external', {
      admin: true,
      body: { name: 'pytorch-baseline', experiment: 'ext', description: 'trained elsewhere', params: { optimizer: { name: 'adam', lr: 0.001 }, layers: [64, 10] } },
    });
    expect(created.status).toBe(201);
    const { run } = await bodyOf(created, CreatedRunSchema);
    expect(run).toMatchObject({ status: 'running', external: true });

    const batch1 = Array.from({ length: 100 }, (_, i) => ({ key: 'train_loss', step: i, value: 2 / (i + 1) }));
    const log1 = await t.call('POST', `/api/v1/runs/${run.id}/log`, {
      admin: true,
      body: { metrics: [...batch1, { key: 'val_accuracy', step: 99, value: 0.91 }], params: { batch_size: 32 } },
    });
    expect(log1.status).toBe(200);
    expect(await bodyOf(log1, LogResultSchema)).toEqual({ runId: run.id, logged: { metrics: 101, params: 1 } });
    const batch2 = Array.from({ length: 50 }, (_, i) => ({ key: 'train_loss', step: 100 + i, value: 0.01 }));
    expect((await t.call('POST', `/api/v1/runs/${run.id}/log`, { admin: true, body: { metrics: batch2 } })).status).toBe(200);

    const history = await bodyOf(t.call('GET', `/api/v1/runs/${run.id}/metrics/train_loss`), MetricHistorySchema);
    expect(history.points).toHaveLength(150);
    expect(history.points.map((p) => p.step)).toEqual(Array.from({ length: 150 }, (_, i) => i));
    expect(history.points[1]?.value).toBeCloseTo(1, 6);
    const tail = await bodyOf(t.call('GET', `/api/v1/runs/${run.id}/metrics/train_loss?after_step=139`), MetricHistorySchema);
    expect(tail.points.map((p) => p.step)).toEqual(Array.from({ length: 10 }, (_, i) => 140 + i));

    const detail = await bodyOf(t.call('GET', `/api/v1/runs/${run.id}`), RunDetailSchema);
    expect(detail.live).toBeNull();
    expect(detail.params).toMatchObject({ 'optimizer.name': 'adam', 'optimizer.lr': '0.001', layers: '[64,10]', batch_size: '32' });
    expect(detail.run.step).toBe(149);
    expect(detail.run.metrics.train_loss).toMatchObject({ last: 0.01, min: 0.01, count: 150 });
    expect(detail.run.metrics.val_accuracy).toMatchObject({ last: 0.91, count: 1 });

    // Validation names the field and writes nothing.
    const badKey = await t.call('POST', `/api/v1/runs/${run.id}/log`, { admin: true, body: { metrics: [{ key: 'bad key!', step: 1, value: 1 }] } });
    expect(badKey.status).toBe(400);
    expect((await errorOf(badKey)).message).toMatch(/metrics\.0\.key/);
    const nonFinite = await t.call('POST', `/api/v1/runs/${run.id}/log`, { admin: true, body: { metrics: [{ key: 'train_loss', step: 200, value: 'NaN' }] } });
    expect(nonFinite.status).toBe(400);
    expect((await errorOf(nonFinite)).message).toMatch(/metrics\.0\.value/);
    const extra = await t.call('POST', `/api/v1/runs/${run.id}/log`, { admin: true, body: { metric: [] } });
    expect(extra.status).toBe(400);
    expect((await errorOf(extra)).message).toMatch(/metric/);
    const notJson = await t.call('POST', `/api/v1/runs/${run.id}/log`, { admin: true, body: '{"metrics": [' });
    expect(notJson.status).toBe(400);
    expect((await errorOf(notJson)).message).toMatch(/not valid JSON/);
    expect((await t.coordinator.store.getMetricHistory(run.id, 'train_loss')).length).toBe(150);

    const missing = await t.call('POST', '/api/v1/runs/no-such-run/log', { admin: true, body: { metrics: [] } });
    expect(missing.status).toBe(404);
    expect((await errorOf(missing)).message).toMatch(/no run with id no-such-run/);

    // An external run is ended, not stopped.
    const stop = await t.call('POST', `/api/v1/runs/${run.id}/stop`, { admin: true });
    expect(stop.status).toBe(409);
    const end = await t.call('POST', `/api/v1/runs/${run.id}/end`, { admin: true, body: { status: 'finished' } });
    expect(end.status).toBe(200);
    expect((await t.coordinator.store.getRun(run.id))?.status).toBe('finished');

    // The runs table finds it by status, name search, param and metric filters.
    const list = async (query: string) => (await bodyOf(t.call('GET', `/api/v1/runs?${query}`), RunListSchema)).runs.map((r) => r.id);
    expect(await list('status=finished')).toContain(run.id);
    expect(await list('q=baseline')).toEqual([run.id]);
    expect(await list('q=nothing-like-it')).toEqual([]);
    expect(await list('param=optimizer.name%3Dadam')).toEqual([run.id]);
    expect(await list('metric=val_accuracy&metric_min=0.9')).toEqual([run.id]);
    expect(await list('metric=val_accuracy&metric_min=0.95')).toEqual([]);
    const badQuery = await t.call('GET', '/api/v1/runs?status=sleeping');
    expect(badQuery.status).toBe(400);
    expect((await errorOf(badQuery)).message).toMatch(/status/);
  });

  it('starts a run from a run config, starts a second one beside it (stopped by its own id), finishes, and serves checkpoints, fleet and the registry', async () => {
    const invalid = await t.call('POST', '/api/v1/runs', { admin: true, body: { ...syntheticConfig(), batch_size: -4 } });
    expect(invalid.status).toBe(400);
    expect(await errorOf(invalid)).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringMatching(/batch_size/) as unknown });
    const unknownField = await t.call('POST', '/api/v1/runs', { admin: true, body: { ...syntheticConfig(), learning_rate: 0.1 } });
    expect(unknownField.status).toBe(400);
    expect((await errorOf(unknownField)).message).toMatch(/learning_rate/);

    await t.joinWorkers(2);
    const cfg = syntheticConfig({ name: 'api-started', total_updates: 20, checkpoint_every: 5, eval_every: 10 });
    const started = await t.call('POST', '/api/v1/runs', { admin: true, body: cfg });
    expect(started.status).toBe(201);
    const { run } = await bodyOf(started, CreatedRunSchema);
    expect(run.name).toBe('api-started');
    const session = t.coordinator.activeSession(run.id);
    expect(t.coordinator.activeRuns().map((r) => r.runId)).toEqual([run.id]);
    const ended = session!.done;

    // A second run starts beside it on the same fleet, and stops by its own id.
    const second = await t.call('POST', '/api/v1/runs', { admin: true, body: { ...cfg, name: 'api-second', total_updates: 100_000 } });
    expect(second.status).toBe(201);
    const other = (await bodyOf(second, CreatedRunSchema)).run;
    expect(t.coordinator.activeRuns().map((r) => r.runId).sort()).toEqual([run.id, other.id].sort());
    const stopped = await t.call('POST', `/api/v1/runs/${other.id}/stop`, { admin: true });
    expect(stopped.status).toBe(200);
    expect(t.coordinator.activeSession(run.id)).not.toBeNull();

    expect((await ended).status).toBe('finished');

    const cks = await bodyOf(t.call('GET', `/api/v1/runs/${run.id}/checkpoints`), CheckpointListSchema);
    expect(cks.checkpoints.map((c) => c.step)).toEqual(expect.arrayContaining([5, 10, 15, 20]));
    const latest = cks.checkpoints.find((c) => c.isLatest)!;
    for (const which of ['latest', String(latest.step), latest.id]) {
      const dl = await t.call('GET', `/api/v1/runs/${run.id}/checkpoints/${which}/download`);
      expect(dl.status).toBe(200);
      expect(dl.headers.get('content-disposition')).toMatch(/attachment; filename=".*step-20\.ckpt"/);
      const bytes = Buffer.from(await dl.arrayBuffer());
      expect(bytes.length).toBe(latest.sizeBytes);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(latest.sha256);
      expect(dl.headers.get('x-checkpoint-sha256')).toBe(latest.sha256);
    }
    expect((await t.call('GET', `/api/v1/runs/${run.id}/checkpoints/999/download`)).status).toBe(404);

    const fleet = await bodyOf(t.call('GET', `/api/v1/runs/${run.id}/fleet`), RunFleetSchema);
    expect(fleet.workers).toHaveLength(2);
    for (const w of fleet.workers) expect(w).toMatchObject({ kind: 'node', backend: 'cpu', connected: false });
    expect(fleet.totals.steps).toBeGreaterThanOrEqual(20);
    expect(fleet.totals.samples).toBe(fleet.workers.reduce((s, w) => s + w.samples, 0));
    const live = await bodyOf(t.call('GET', '/api/v1/fleet'), LiveFleetSchema);
    expect(live.workers).toHaveLength(2);
    expect(live.runs).toEqual([]);
    expect(live.workers.map((w) => w.runId)).toEqual([null, null]);
    expect(live.totals.idle).toBe(2);

    const metrics = await bodyOf(t.call('GET', `/api/v1/runs/${run.id}/metrics`), MetricKeysSchema);
    expect(metrics.metrics.find((m) => m.key === 'train_loss')?.count).toBe(20);
    expect(metrics.metrics.find((m) => m.key === 'eval_accuracy')?.count).toBeGreaterThanOrEqual(2);

    // Registry round trip: create, register (best, then latest with an alias), move the alias.
    const model = await t.call('POST', '/api/v1/models', { admin: true, body: { name: 'synthetic-mlp', description: 'integration' } });
    expect(model.status).toBe(201);
    expect((await bodyOf(model, ModelBodySchema)).model).toMatchObject({ name: 'synthetic-mlp', description: 'integration', versions: [] });
    expect((await t.call('POST', '/api/v1/models', { admin: true, body: { name: 'synthetic-mlp' } })).status).toBe(409);
    const v1 = await t.call('POST', '/api/v1/models/synthetic-mlp/versions', { admin: true, body: { run_id: run.id, checkpoint: 'best' } });
    expect(v1.status).toBe(201);
    const v2 = await t.call('POST', '/api/v1/models/synthetic-mlp/versions', {
      admin: true,
      body: { run_id: run.id, checkpoint: 20, aliases: ['champion'], description: 'final' },
    });
    expect(v2.status).toBe(201);
    expect((await bodyOf(v2, VersionBodySchema)).version).toMatchObject({ version: 2, aliases: ['champion'], sourceRunId: run.id, sourceStep: 20 });
    const moved = await t.call('PUT', '/api/v1/models/synthetic-mlp/aliases/champion', { admin: true, body: { version: 1 } });
    expect(moved.status).toBe(200);
    const got = await bodyOf(t.call('GET', '/api/v1/models/synthetic-mlp'), ModelBodySchema);
    expect(got.model.versions.map((v) => [v.version, v.aliases])).toEqual([
      [2, []],
      [1, ['champion']],
    ]);
    expect(got.model.versions[0]?.sourceRunName).toBe('api-started');
    const badCkpt = await t.call('POST', '/api/v1/models/synthetic-mlp/versions', { admin: true, body: { run_id: run.id, checkpoint: 7 } });
    expect(badCkpt.status).toBe(404);
    expect((await errorOf(badCkpt)).message).toMatch(/no checkpoint "7"/);
    const badAlias = await t.call('PUT', '/api/v1/models/synthetic-mlp/aliases/champion', { admin: true, body: { version: 9 } });
    expect(badAlias.status).toBe(404);
    expect((await errorOf(badAlias)).message).toMatch(/no version 9/);
    expect(await bodyOf(t.call('GET', '/api/v1/models'), ModelListSchema)).toMatchObject({ models: [{ name: 'synthetic-mlp' }] });
    const events = await bodyOf(t.call('GET', `/api/v1/runs/${run.id}/events`), RunEventsSchema);
    expect(events.events.map((e) => e.kind)).toContain('checkpoint');
  });

  it('accepts a YAML run config and stops the run on request, checkpointing it', async () => {
    const yaml = [
      'name: api-yaml',
      'experiment: integration',
      'model: { type: mlp, hidden: [16] }',
      'dataset: { name: synthetic, shape: [12], classes: 3, train_size: 240, test_size: 60, seed: 5 }',
      'optimizer: { name: adam, lr: 0.01 }',
      'batch_size: 8',
      'total_updates: 100000',
      'checkpoint_every: 100000',
      'eval_every: 100000',
    ].join('\n');
    const started = await t.call('POST', '/api/v1/runs', { admin: true, body: yaml, headers: { 'content-type': 'application/yaml' } });
    expect(started.status).toBe(201);
    const { run } = await bodyOf(started, CreatedRunSchema);
    await new Promise<void>((resolve) => {
      const onProgress = (p: { runId: string; step: number }) => {
        if (p.runId === run.id && p.step >= 3) {
          t.coordinator.events.off('progress', onProgress);
          resolve();
        }
      };
      t.coordinator.events.on('progress', onProgress);
    });
    const stopped = await t.call('POST', `/api/v1/runs/${run.id}/stop`, { admin: true });
    expect(stopped.status).toBe(200);
    const { outcome } = await bodyOf(stopped, StopResultSchema);
    expect(outcome.status).toBe('stopped');
    expect(outcome.step).toBeGreaterThanOrEqual(3);
    expect((await t.coordinator.store.getRun(run.id))?.status).toBe('stopped');
    const ck = await t.coordinator.store.findCheckpoint(run.id, 'latest');
    expect(ck?.step).toBe(outcome.step);
    expect((await readFile(ck!.path)).length).toBe(ck!.sizeBytes);
    const again = await t.call('POST', `/api/v1/runs/${run.id}/stop`, { admin: true });
    expect(again.status).toBe(409);
    expect((await errorOf(again)).message).toMatch(/not training/);

    // Resume continues exactly from the stop checkpoint; a second resume while it trains is refused.
    const resumed = await t.call('POST', `/api/v1/runs/${run.id}/resume`, { admin: true, body: { from: 'latest' } });
    expect(resumed.status).toBe(200);
    expect(await bodyOf(resumed, ResumeResultSchema)).toMatchObject({ runId: run.id, step: outcome.step, url: `/runs/${run.id}` });
    expect(t.coordinator.activeSession(run.id)).not.toBeNull();
    expect((await t.coordinator.store.getRun(run.id))?.status).toBe('running');
    const twice = await t.call('POST', `/api/v1/runs/${run.id}/resume`, { admin: true });
    expect(twice.status).toBe(409);
    expect((await t.call('POST', `/api/v1/runs/${run.id}/resume`, { body: {} })).status).toBe(401);
    const badFrom = await t.call('POST', `/api/v1/runs/${run.id}/resume`, { admin: true, body: { from: 'newest' } });
    expect(badFrom.status).toBe(400);
    expect((await errorOf(badFrom)).message).toMatch(/from/);

    const badYaml = await t.call('POST', '/api/v1/runs', { admin: true, body: 'name: [unclosed', headers: { 'content-type': 'application/yaml' } });
    expect(badYaml.status).toBe(400);
    expect((await errorOf(badYaml)).message).toMatch(/not valid YAML/);
  });
});
