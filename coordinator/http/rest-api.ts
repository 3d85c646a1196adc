import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type http from 'node:http';
import createDebug from 'debug';
import { z } from 'zod';
import { parseRunConfig, validateRunConfig } from '../../core/config/run-config.ts';
import { CrowdtrainError, ErrorCode, toWireError } from '../../core/protocol/errors.ts';
import { describeZodError } from '../../core/protocol/messages.ts';
import { RunSortSchema, RunStatusSchema, type CheckpointRecord, type MetricSummaryRecord, type RunWithExperiment } from '../../prisma/queries/tracking-store.ts';
import { AliasSchema, ModelNameSchema, RegistryStore, type ModelVersionRecord } from '../../prisma/queries/registry-store.ts';
import { readCheckpointFile } from '../run/checkpoint-file.ts';
import type { Coordinator } from '../coordinator.ts';
import { checkAdminRequest } from './admin-auth.ts';

const debug = createDebug('crowdtrain:http:rest');

const RUN_ID = /^[A-Za-z0-9_-]{1,64}$/;
const METRIC_KEY = /^[A-Za-z0-9_./-]{1,128}$/;
/** Largest request body the API reads (a batch of 10,000 metric points is about 1 MB). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Most metric points one `log` request may carry. */
export const MAX_POINTS_PER_BATCH = 10_000;
/** Metric keys the runs table summarises when the request names none. */
export const DEFAULT_SUMMARY_KEYS = ['train_loss', 'eval_loss', 'eval_accuracy'] as const;
/** A worker whose samples/s is below this fraction of the fleet median is marked a straggler. */
export const STRAGGLER_FRACTION = 0.5;

/** An API failure with its HTTP status; the body is `{ error: { code, message } }`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

const intParam = (name: string, min: number, max: number) =>
  z.coerce
    .number({ message: `${name} must be a number` })
    .int(`${name} must be an integer`)
    .min(min, `${name} must be >= ${min}`)
    .max(max, `${name} must be <= ${max}`);

/** Query of `GET /api/v1/runs`. */
export const ListRunsQuerySchema = z
  .object({
    status: RunStatusSchema.optional(),
    experiment: z.string().min(1).max(128).optional(),
    q: z.string().max(128).optional(),
    /** `key=value`: only runs with this param value. */
    param: z
      .string()
      .regex(/^[^=]{1,256}=.{0,4000}$/, 'param must look like key=value')
      .optional(),
    metric: z.string().regex(METRIC_KEY, 'metric must be a metric key').optional(),
    metric_min: z.coerce.number().optional(),
    metric_max: z.coerce.number().optional(),
    sort: RunSortSchema.default('createdAt'),
    order: z.enum(['asc', 'desc']).default('desc'),
    take: intParam('take', 1, 500).default(50),
    skip: intParam('skip', 0, 100_000_000).default(0),
    /** Comma-separated metric keys to summarise per run. */
    keys: z
      .string()
      .max(2000)
      .optional()
      .transform((s) => (s === undefined || s === '' ? [...DEFAULT_SUMMARY_KEYS] : s.split(',')))
      .pipe(z.array(z.string().regex(METRIC_KEY, 'keys must be metric keys')).max(20)),
  })
  .strict();

/** Query of `GET /api/v1/runs/:id/metrics/:key`. */
export const MetricHistoryQuerySchema = z
  .object({
    after_step: intParam('after_step', -1, Number.MAX_SAFE_INTEGER).default(-1),
    limit: intParam('limit', 1, 100_000).default(100_000),
  })
  .strict();

/** One metric point of a `log` batch. */
export const LoggedMetricSchema = z
  .object({
    key: z.string().regex(METRIC_KEY, 'metric key must be 1-128 letters, digits or _ . / -'),
    step: z.number().int().nonnegative(),
    value: z.number({ message: 'value must be a finite number' }).finite('value must be a finite number'),
    /** ISO time; defaults to the time of the request. */
    time: z.iso.datetime().optional(),
  })
  .strict();

/** Body of `POST /api/v1/runs/:id/log`: a batch of metric points and/or params. */
export const LogBatchSchema = z
  .object({
    metrics: z.array(LoggedMetricSchema).max(MAX_POINTS_PER_BATCH).default([]),
    params: z.record(z.string().min(1).max(256), z.unknown()).default({}),
  })
  .strict();

/** Body of `POST /api/v1/runs/external`: a run tracked here but trained elsewhere (an external script). */
export const ExternalRunSchema = z
  .object({
    name: z.string().min(1).max(128),
    experiment: z.string().min(1).max(128).default('default'),
    description: z.string().max(4000).optional(),
    params: z.record(z.string().min(1).max(256), z.unknown()).default({}),
  })
  .strict();

/** Body of `POST /api/v1/runs/:id/end` (external runs only). */
export const EndRunSchema = z
  .object({
    status: z.enum(['finished', 'failed', 'stopped']),
    error: z.string().max(4000).optional(),
  })
  .strict();

/** Body of `POST /api/v1/runs/:id/resume`: which checkpoint to continue from (default latest). */
export const ResumeRunSchema = z.object({ from: z.union([z.enum(['latest', 'best']), z.number().int().nonnegative()]).default('latest') }).strict();

/** Body of `POST /api/v1/models`. */
export const CreateModelSchema = z.object({ name: ModelNameSchema, description: z.string().max(4000).optional() }).strict();

/** Body of `POST /api/v1/models/:name/versions`. */
export const RegisterVersionSchema = z
  .object({
    run_id: z.string().regex(RUN_ID, 'run_id must be a run id'),
    /** 'latest', 'best', a step number, or a checkpoint id. */
    checkpoint: z.union([z.enum(['latest', 'best']), z.number().int().nonnegative(), z.string().regex(RUN_ID)]).default('best'),
    description: z.string().max(4000).optional(),
    aliases: z.array(AliasSchema).max(16).default([]),
  })
  .strict();

/** Body of `PUT /api/v1/models/:name/aliases/:alias`. */
export const SetAliasSchema = z.object({ version: z.number().int().positive() }).strict();

type Handler = (ctx: RouteContext) => Promise<void>;

interface RouteContext {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  url: URL;
  params: string[];
}

interface Route {
  method: 'GET' | 'POST' | 'PUT';
  pattern: RegExp;
  admin: boolean;
  handle: Handler;
}

/**
 * The REST API of the dashboard and of external scripts, under /api/v1. Reads are public; every
 * write needs `Authorization: Bearer <admin token>` (401 without, 403 with a wrong one). Bodies and
 * queries are validated with zod and errors name the field. Returns false for paths it does not
 * serve (the read-only API in api.ts handles those).
 * @example
 * const rest = createRestApiHandler(coordinator);
 * if (await rest(req, res)) return;
 */
export function createRestApiHandler(c: Coordinator): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean> {
  const registry = new RegistryStore(c.database);
  const routes: Route[] = [
    { method: 'GET', pattern: /^\/api\/v1\/runs$/, admin: false, handle: (ctx) => listRuns(c, ctx) },
    { method: 'POST', pattern: /^\/api\/v1\/runs$/, admin: true, handle: (ctx) => createRun(c, ctx) },
    { method: 'POST', pattern: /^\/api\/v1\/runs\/external$/, admin: true, handle: (ctx) => createExternalRun(c, ctx) },
    { method: 'GET', pattern: /^\/api\/v1\/runs\/([^/]+)$/, admin: false, handle: (ctx) => getRun(c, ctx) },
    { method: 'GET', pattern: /^\/api\/v1\/runs\/([^/]+)\/metrics$/, admin: false, handle: (ctx) => listMetrics(c, ctx) },
    { method: 'GET', pattern: /^\/api\/v1\/runs\/([^/]+)\/metrics\/([^/]+)$/, admin: false, handle: (ctx) => metricHistory(c, ctx) },
    { method: 'GET', pattern: /^\/api\/v1\/runs\/([^/]+)\/checkpoints$/, admin: false, handle: (ctx) => listCheckpoints(c, ctx) },
    { method: 'GET', pattern: /^\/api\/v1\/runs\/([^/]+)\/checkpoints\/([^/]+)\/download$/, admin: false, handle: (ctx) => downloadCheckpoint(c, ctx) },
    { method: 'GET', pattern: /^\/api\/v1\/runs\/([^/]+)\/fleet$/, admin: false, handle: (ctx) => runFleet(c, ctx) },
    { method: 'GET', pattern: /^\/api\/v1\/runs\/([^/]+)\/stream$/, admin: false, handle: (ctx) => streamRun(c, ctx) },
    { method: 'POST', pattern: /^\/api\/v1\/runs\/([^/]+)\/log$/, admin: true, handle: (ctx) => logBatch(c, ctx) },
    { method: 'POST', pattern: /^\/api\/v1\/runs\/([^/]+)\/stop$/, admin: true, handle: (ctx) => stopRun(c, ctx) },
    { method: 'POST', pattern: /^\/api\/v1\/runs\/([^/]+)\/end$/, admin: true, handle: (ctx) => endExternalRun(c, ctx) },
    { method: 'POST', pattern: /^\/api\/v1\/runs\/([^/]+)\/resume$/, admin: true, handle: (ctx) => resumeRun(c, ctx) },
    { method: 'POST', pattern: /^\/api\/v1\/runs\/([^/]+)\/pause$/, admin: true, handle: (ctx) => pauseRun(c, ctx) },
    { method: 'GET', pattern: /^\/api\/v1\/fleet$/, admin: false, handle: (ctx) => liveFleet(c, ctx) },
    { method: 'GET', pattern: /^\/api\/v1\/models$/, admin: false, handle: async ({ res }) => sendJson(res, 200, { models: await registry.listModels() }) },
    { method: 'POST', pattern: /^\/api\/v1\/models$/, admin: true, handle: (ctx) => createModel(registry, ctx) },
    { method: 'GET', pattern: /^\/api\/v1\/models\/([^/]+)$/, admin: false, handle: (ctx) => getModel(registry, ctx) },
    { method: 'POST', pattern: /^\/api\/v1\/models\/([^/]+)\/versions$/, admin: true, handle: (ctx) => registerVersion(c, registry, ctx) },
    { method: 'PUT', pattern: /^\/api\/v1\/models\/([^/]+)\/aliases\/([^/]+)$/, admin: true, handle: (ctx) => setAlias(registry, ctx) },
    { method: 'GET', pattern: /^\/api\/v1\/models\/([^/]+)\/versions\/([^/]+)\/model\.json$/, admin: false, handle: (ctx) => exportModelJson(c, registry, exports, ctx) },
    { method: 'GET', pattern: /^\/api\/v1\/models\/([^/]+)\/versions\/([^/]+)\/weights\.bin$/, admin: false, handle: (ctx) => exportWeights(c, registry, exports, ctx) },
  ];
  const exports = new Map<string, Promise<ExportedModel>>();

  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const matching = routes.filter((r) => r.pattern.test(url.pathname));
    if (matching.length === 0) return false;
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const route = matching.find((r) => r.method === method);
    try {
      if (!route) {
        const allowed = [...new Set(matching.map((r) => r.method))].join(', ');
        res.setHeader('allow', allowed);
        throw new HttpError(405, 'INVALID_MESSAGE', `${req.method ?? '?'} is not allowed on ${url.pathname} (allowed: ${allowed})`);
      }
      if (route.admin) {
        const auth = checkAdminRequest(req, c.adminToken);
        if (!auth.ok) throw new HttpError(auth.status, 'BAD_TOKEN', auth.message);
      }
      const params = (route.pattern.exec(url.pathname) ?? []).slice(1).map((p) => decodeURIComponent(p));
      await route.handle({ req, res, url, params });
    } catch (err) {
      sendError(res, err);
    }
    return true;
  };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** HTTP status for an error code thrown below the API. */
function statusForCode(code: ErrorCode): number {
  switch (code) {
    case 'RUN_NOT_FOUND':
      return 404;
    case 'NO_ACTIVE_RUN':
      return 409;
    case 'INVALID_CONFIG':
    case 'INVALID_MESSAGE':
    case 'NON_FINITE':
    case 'OVERSIZED':
    case 'SHAPE_MISMATCH':
    case 'CHECKPOINT_INVALID':
      return 400;
    case 'BAD_TOKEN':
      return 403;
    default:
      return 500;
  }
}

function sendError(res: http.ServerResponse, err: unknown): void {
  const status = err instanceof HttpError ? err.status : err instanceof CrowdtrainError ? statusForCode(err.code) : 500;
  const error = err instanceof HttpError ? { code: err.code, message: err.message } : toWireError(err);
  if (status >= 500) debug('API error: %O', err);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { error });
}

function parseWith<S extends z.ZodType>(schema: S, raw: unknown, what: string): z.output<S> {
  const r = schema.safeParse(raw);
  if (!r.success) throw new HttpError(400, 'INVALID_MESSAGE', `invalid ${what}: ${describeZodError(r.error)}`);
  return r.data;
}

function queryObject(url: URL): Record<string, string> {
  return Object.fromEntries(url.searchParams.entries());
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) throw new HttpError(413, 'OVERSIZED', `request body of ${declared} bytes exceeds the ${MAX_BODY_BYTES}-byte limit`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'OVERSIZED', `request body exceeds the ${MAX_BODY_BYTES}-byte limit`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HttpError(400, 'INVALID_MESSAGE', `request body is not valid JSON: ${(err as Error).message}`);
  }
}

function runIdParam(raw: string | undefined): string {
  const id = raw ?? '';
  if (!RUN_ID.test(id)) throw new HttpError(400, 'INVALID_MESSAGE', `"${id}" is not a run id`);
  return id;
}

async function requireRun(c: Coordinator, raw: string | undefined): Promise<RunWithExperiment> {
  const id = runIdParam(raw);
  const run = await c.store.getRun(id);
  if (!run) throw new HttpError(404, 'RUN_NOT_FOUND', `no run with id ${id}`);
  return run;
}

/** Whether a run was created through `POST /runs/external` (tracked here, trained elsewhere). */
function isExternal(run: RunWithExperiment): boolean {
  try {
    const config = JSON.parse(run.config) as { external?: unknown };
    return config.external === true;
  } catch {
    return false;
  }
}

function runSummary(run: RunWithExperiment, metrics: MetricSummaryRecord[], liveWorkers: number | null, contributors: number | null = null) {
  const endedOrNow = run.endedAt ?? (run.status === 'running' ? new Date() : null);
  return {
    id: run.id,
    name: run.name,
    description: run.description,
    experiment: run.experiment.name,
    status: run.status,
    mode: run.mode,
    external: isExternal(run),
    step: run.step,
    totalUpdates: run.totalUpdates,
    seed: run.seed,
    createdAt: run.createdAt.toISOString(),
    startedAt: run.startedAt?.toISOString() ?? null,
    endedAt: run.endedAt?.toISOString() ?? null,
    durationMs: run.startedAt && endedOrNow ? endedOrNow.getTime() - run.startedAt.getTime() : null,
    error: run.error,
    liveWorkers,
    contributors,
    metrics: Object.fromEntries(
      metrics.map((m) => [m.key, { last: finiteOrNull(m.last), min: finiteOrNull(m.min), max: finiteOrNull(m.max), lastStep: m.lastStep, count: m.count }]),
    ),
  };
}

function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

function checkpointSummary(runId: string, ck: CheckpointRecord) {
  return {
    id: ck.id,
    step: ck.step,
    sha256: ck.sha256,
    sizeBytes: ck.sizeBytes,
    isLatest: ck.isLatest,
    isBest: ck.isBest,
    metricValue: ck.metricValue,
    createdAt: ck.createdAt.toISOString(),
    downloadUrl: `/api/v1/runs/${runId}/checkpoints/${ck.id}/download`,
  };
}

async function listRuns(c: Coordinator, { res, url }: RouteContext): Promise<void> {
  const q = parseWith(ListRunsQuerySchema, queryObject(url), 'query');
  const eq = q.param?.indexOf('=') ?? -1;
  const { runs, total } = await c.store.searchRuns({
    status: q.status,
    experiment: q.experiment,
    q: q.q,
    param: q.param === undefined ? undefined : { key: q.param.slice(0, eq), value: q.param.slice(eq + 1) },
    metric: q.metric === undefined ? undefined : { key: q.metric, min: q.metric_min, max: q.metric_max },
    sort: q.sort,
    order: q.order,
    take: q.take,
    skip: q.skip,
  });
  const [summaries, contributors] = await Promise.all([
    c.store.summarizeRunMetrics(
      runs.map((r) => r.id),
      q.keys,
    ),
    c.store.countContributors(runs.map((r) => r.id)),
  ]);
  const active = c.activeRun;
  sendJson(res, 200, {
    total,
    take: q.take,
    skip: q.skip,
    runs: runs.map((r) =>
      runSummary(
        r,
        summaries.filter((s) => s.runId === r.id),
        active?.runId === r.id ? active.status().activeWorkers : null,
        contributors.get(r.id) ?? 0,
      ),
    ),
  });
}

async function createRun(c: Coordinator, { req, res }: RouteContext): Promise<void> {
  const type = (req.headers['content-type'] ?? 'application/json').toLowerCase();
  const text = await readBody(req);
  let config;
  if (/yaml|text\/plain/.test(type)) {
    config = parseRunConfig(text, 'request body');
  } else {
    let raw: unknown;
    try {
      raw = JSON.parse(text === '' ? '{}' : text) as unknown;
    } catch (err) {
      throw new HttpError(400, 'INVALID_MESSAGE', `request body is not valid JSON: ${(err as Error).message}`);
    }
    config = validateRunConfig(raw);
  }
  const active = c.activeRun;
  if (active) throw new HttpError(409, 'INVALID_CONFIG', `run ${active.runId} (${active.config.name}) is still training; stop it first (POST /api/v1/runs/${active.runId}/stop)`);
  let session;
  try {
    session = await c.startRun(config);
  } catch (err) {
    // Lost a race with another start.
    if (c.activeRun) throw new HttpError(409, 'INVALID_CONFIG', (err as Error).message);
    throw err;
  }
  const run = await c.store.getRun(session.runId);
  if (!run) throw new HttpError(500, 'INTERNAL', `run ${session.runId} vanished after start`);
  sendJson(res, 201, { run: runSummary(run, [], session.status().activeWorkers), url: `/runs/${run.id}` });
}

async function createExternalRun(c: Coordinator, { req, res }: RouteContext): Promise<void> {
  const body = parseWith(ExternalRunSchema, await readJson(req), 'external run');
  const exp = await c.store.ensureExperiment(body.experiment);
  const run = await c.store.createRun({
    experimentId: exp.id,
    name: body.name,
    mode: 'ddp',
    config: { external: true, name: body.name, experiment: body.experiment },
    seed: 0,
    totalUpdates: 0,
    description: body.description,
  });
  await c.store.logParams(run.id, body.params);
  await c.store.setRunStatus(run.id, 'running');
  const full = await c.store.getRun(run.id);
  if (!full) throw new HttpError(500, 'INTERNAL', `run ${run.id} vanished after creation`);
  sendJson(res, 201, { run: runSummary(full, [], null), url: `/runs/${run.id}` });
}

async function getRun(c: Coordinator, { res, params }: RouteContext): Promise<void> {
  const run = await requireRun(c, params[0]);
  const [runParams, metrics, checkpoints] = await Promise.all([
    c.store.getParams(run.id),
    c.store.summarizeRunMetrics([run.id]),
    c.store.listCheckpoints(run.id),
  ]);
  const active = c.activeRun?.runId === run.id ? c.activeRun : null;
  const live = active?.status();
  let config: unknown = null;
  try {
    config = JSON.parse(run.config) as unknown;
  } catch {
    config = run.config;
  }
  sendJson(res, 200, {
    run: runSummary(run, metrics, live?.activeWorkers ?? null),
    params: runParams,
    config,
    checkpoints: checkpoints.map((ck) => checkpointSummary(run.id, ck)),
    live: live ? { ...live, startedAt: live.startedAt.toISOString() } : null,
  });
}

async function listMetrics(c: Coordinator, { res, params }: RouteContext): Promise<void> {
  const run = await requireRun(c, params[0]);
  const metrics = await c.store.summarizeRunMetrics([run.id]);
  sendJson(res, 200, {
    runId: run.id,
    metrics: metrics.map((m) => ({ key: m.key, count: m.count, lastStep: m.lastStep, last: finiteOrNull(m.last), min: finiteOrNull(m.min), max: finiteOrNull(m.max) })),
  });
}

async function metricHistory(c: Coordinator, { res, url, params }: RouteContext): Promise<void> {
  const run = await requireRun(c, params[0]);
  const key = params[1] ?? '';
  if (!METRIC_KEY.test(key)) throw new HttpError(400, 'INVALID_MESSAGE', `"${key}" is not a metric key`);
  const q = parseWith(MetricHistoryQuerySchema, queryObject(url), 'query');
  const points = await c.store.getMetricHistoryAfter(run.id, key, q.after_step, q.limit);
  sendJson(res, 200, { runId: run.id, key, points: points.map((p) => ({ step: p.step, value: p.value, time: p.time.toISOString() })) });
}

async function listCheckpoints(c: Coordinator, { res, params }: RouteContext): Promise<void> {
  const run = await requireRun(c, params[0]);
  const rows = await c.store.listCheckpoints(run.id);
  sendJson(res, 200, { runId: run.id, checkpoints: rows.map((ck) => checkpointSummary(run.id, ck)) });
}

/** Resolves 'latest' | 'best' | a step number | a checkpoint id to a checkpoint of the run. */
async function findCheckpoint(c: Coordinator, runId: string, which: string | number): Promise<CheckpointRecord> {
  let ck: CheckpointRecord | null;
  if (which === 'latest' || which === 'best') ck = await c.store.findCheckpoint(runId, which);
  else if (typeof which === 'number' || /^\d+$/.test(which)) ck = await c.store.findCheckpoint(runId, Number(which));
  else ck = await c.store.getCheckpoint(runId, which);
  if (!ck) throw new HttpError(404, 'RUN_NOT_FOUND', `run ${runId} has no checkpoint "${String(which)}"`);
  return ck;
}

async function downloadCheckpoint(c: Coordinator, { req, res, params }: RouteContext): Promise<void> {
  const run = await requireRun(c, params[0]);
  const which = params[1] ?? '';
  if (!RUN_ID.test(which)) throw new HttpError(400, 'INVALID_MESSAGE', `"${which}" is not latest, best, a step or a checkpoint id`);
  const ck = await findCheckpoint(c, run.id, which);
  let size: number;
  try {
    size = (await stat(ck.path)).size;
  } catch {
    throw new HttpError(410, 'CHECKPOINT_INVALID', `checkpoint ${ck.id} of run ${run.id} (step ${ck.step}) is recorded but its file ${ck.path} is gone`);
  }
  const filename = `${run.name.replace(/[^A-Za-z0-9._-]/g, '_')}-${run.id}-step-${ck.step}.ckpt`;
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': String(size),
    'content-disposition': `attachment; filename="${filename}"`,
    'x-checkpoint-sha256': ck.sha256,
    'x-checkpoint-step': String(ck.step),
    'cache-control': 'no-store',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const stream = createReadStream(ck.path);
    stream.on('error', reject);
    res.on('close', () => resolve());
    stream.pipe(res);
  });
}

/** Marks workers whose samples/s is below {@link STRAGGLER_FRACTION} of the fleet median. */
function stragglerIds(rates: { id: string; samplesPerSec: number | null }[]): Set<string> {
  const known = rates.filter((r): r is { id: string; samplesPerSec: number } => r.samplesPerSec !== null).sort((a, b) => a.samplesPerSec - b.samplesPerSec);
  if (known.length < 2) return new Set();
  const mid = known.length / 2;
  const median = known.length % 2 === 1 ? (known[Math.floor(mid)]?.samplesPerSec ?? 0) : ((known[mid - 1]?.samplesPerSec ?? 0) + (known[mid]?.samplesPerSec ?? 0)) / 2;
  return new Set(known.filter((r) => r.samplesPerSec < STRAGGLER_FRACTION * median).map((r) => r.id));
}

function liveWorkerView(c: Coordinator) {
  const workers = c.workers();
  const stragglers = stragglerIds(workers);
  return workers.map((w) => ({
    id: w.id,
    name: w.name,
    kind: w.kind,
    backend: w.backend,
    deviceInfo: w.deviceInfo,
    connectedAt: w.connectedAt.toISOString(),
    lastSeenAt: w.lastSeenAt.toISOString(),
    steps: w.steps,
    samples: w.samples,
    samplesPerSec: w.samplesPerSec,
    rejected: w.rejected,
    straggler: stragglers.has(w.id),
    gradientAgreement: w.gradientAgreement,
    gradientOutlier: w.gradientOutlier,
  }));
}

function liveFleet(c: Coordinator, { res }: RouteContext): Promise<void> {
  const workers = liveWorkerView(c);
  sendJson(res, 200, {
    activeRunId: c.activeRun?.runId ?? null,
    workers,
    totals: {
      workers: workers.length,
      samples: workers.reduce((s, w) => s + w.samples, 0),
      samplesPerSec: workers.reduce((s, w) => s + (w.samplesPerSec ?? 0), 0),
      rejected: workers.reduce((s, w) => s + w.rejected, 0),
    },
  });
  return Promise.resolve();
}

async function runFleet(c: Coordinator, { res, params }: RouteContext): Promise<void> {
  const run = await requireRun(c, params[0]);
  const entries = await c.store.listFleet(run.id);
  const live = c.activeRun?.runId === run.id ? new Map(liveWorkerView(c).map((w) => [w.id, w])) : new Map<string, ReturnType<typeof liveWorkerView>[number]>();
  const workers = entries.map((e) => {
    const l = live.get(e.workerId);
    let deviceInfo: unknown = null;
    try {
      deviceInfo = JSON.parse(e.worker.deviceInfo) as unknown;
    } catch {
      deviceInfo = e.worker.deviceInfo;
    }
    return {
      id: e.workerId,
      name: e.worker.name ?? e.workerId,
      kind: e.worker.kind,
      backend: e.worker.backend,
      deviceInfo,
      userAgent: e.worker.userAgent,
      connected: l !== undefined,
      lastSeenAt: (l?.lastSeenAt ?? e.worker.lastSeenAt.toISOString()),
      steps: e.steps,
      samples: e.samples,
      bytesIn: e.bytesIn,
      bytesOut: e.bytesOut,
      rejected: e.rejected,
      lastRejectReason: e.lastRejectReason,
      samplesPerSec: l?.samplesPerSec ?? null,
      straggler: l?.straggler ?? false,
    };
  });
  sendJson(res, 200, {
    runId: run.id,
    workers,
    totals: {
      workers: workers.length,
      connected: workers.filter((w) => w.connected).length,
      steps: workers.reduce((s, w) => s + w.steps, 0),
      samples: workers.reduce((s, w) => s + w.samples, 0),
      bytesIn: workers.reduce((s, w) => s + w.bytesIn, 0),
      bytesOut: workers.reduce((s, w) => s + w.bytesOut, 0),
      rejected: workers.reduce((s, w) => s + w.rejected, 0),
    },
  });
}

/**
 * Server-sent events for one run: `progress` (the live RunProgress, at most every 500 ms),
 * `metrics` (new metric points, batched every 500 ms), `checkpoint`, and `ended` (then the stream closes). Fed by the coordinator's in-memory events,
 * so viewers never poll the database for liveness.
 */
async function streamRun(c: Coordinator, { req, res, params }: RouteContext): Promise<void> {
  const run = await requireRun(c, params[0]);
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const active = c.activeRun?.runId === run.id ? c.activeRun : null;
  if (!active) {
    send('ended', { runId: run.id, status: run.status, step: run.step });
    res.end();
    return;
  }
  let lastSent = 0;
  let pending: ReturnType<typeof setTimeout> | null = null;
  const onProgress = (p: { runId: string; startedAt: Date }) => {
    if (p.runId !== run.id) return;
    const now = Date.now();
    const emit = () => {
      lastSent = Date.now();
      pending = null;
      send('progress', { ...p, startedAt: p.startedAt.toISOString() });
    };
    if (now - lastSent >= 500) emit();
    else if (!pending) {
      pending = setTimeout(() => emit(), 500 - (now - lastSent));
      pending.unref();
    }
  };
  const onCheckpoint = (ck: { runId: string; step: number }) => {
    if (ck.runId === run.id) send('checkpoint', ck);
  };
  // Metric points straight from the run session's memory, batched to one event per 500 ms.
  let metricBatch: { key: string; step: number; value: number }[] = [];
  let metricTimer: ReturnType<typeof setTimeout> | null = null;
  const flushMetrics = () => {
    metricTimer = null;
    if (metricBatch.length === 0) return;
    send('metrics', { runId: run.id, points: metricBatch });
    metricBatch = [];
  };
  const onMetrics = (runId: string, points: readonly { key: string; step: number; value: number }[]) => {
    if (runId !== run.id) return;
    for (const p of points) metricBatch.push({ key: p.key, step: p.step, value: p.value });
    if (!metricTimer) {
      metricTimer = setTimeout(flushMetrics, 500);
      metricTimer.unref();
    }
  };
  const onEnded = (runId: string, outcome: unknown) => {
    if (runId !== run.id) return;
    if (metricTimer) clearTimeout(metricTimer);
    flushMetrics();
    send('ended', { runId, ...(outcome as object) });
    cleanup();
    res.end();
  };
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  heartbeat.unref();
  const cleanup = () => {
    clearInterval(heartbeat);
    if (pending) clearTimeout(pending);
    if (metricTimer) clearTimeout(metricTimer);
    c.events.off('metrics', onMetrics);
    c.events.off('progress', onProgress);
    c.events.off('checkpoint', onCheckpoint);
    c.events.off('run-ended', onEnded);
  };
  c.events.on('progress', onProgress);
  c.events.on('metrics', onMetrics);
  c.events.on('checkpoint', onCheckpoint);
  c.events.on('run-ended', onEnded);
  req.on('close', cleanup);
  send('progress', { ...active.status(), startedAt: active.status().startedAt.toISOString() });
}

async function logBatch(c: Coordinator, { req, res, params }: RouteContext): Promise<void> {
  const run = await requireRun(c, params[0]);
  const body = parseWith(LogBatchSchema, await readJson(req), 'log batch');
  if (Object.keys(body.params).length > 0) await c.store.logParams(run.id, body.params);
  if (body.metrics.length > 0) {
    await c.store.logMetrics(
      run.id,
      body.metrics.map((m) => ({ key: m.key, step: m.step, value: m.value, time: m.time === undefined ? undefined : new Date(m.time) })),
    );
    // External runs report their progress through the steps they log.
    if (isExternal(run)) {
      const top = Math.max(...body.metrics.map((m) => m.step));
      if (top > run.step) await c.store.setRunProgress(run.id, top);
    }
  }
  sendJson(res, 200, { runId: run.id, logged: { metrics: body.metrics.length, params: Object.keys(body.params).length } });
}

async function stopRun(c: Coordinator, { req, res, params }: RouteContext): Promise<void> {
  const run = await requireRun(c, params[0]);
  await readBody(req);
  if (c.activeRun?.runId !== run.id) {
    throw new HttpError(409, 'NO_ACTIVE_RUN', `run ${run.id} is not training on this coordinator (status ${run.status})${isExternal(run) ? '; end an external run with POST /api/v1/runs/' + run.id + '/end' : ''}`);
  }
  const outcome = await c.stopRun(run.id);
  sendJson(res, 200, { runId: run.id, outcome });
}

/** Pauses the active run: the current update is abandoned (its samples go back) and no update is applied until resume. */
async function pauseRun(c: Coordinator, { req, res, params }: RouteContext): Promise<void> {
  const run = await requireRun(c, params[0]);
  await readBody(req);
  if (c.activeRun?.runId !== run.id) throw new HttpError(409, 'NO_ACTIVE_RUN', `run ${run.id} is not training on this coordinator (status ${run.status})`);
  await c.pauseRun(run.id);
  sendJson(res, 200, { runId: run.id, status: 'paused', step: c.activeRun.status().step });
}

async function resumeRun(c: Coordinator, { req, res, params }: RouteContext): Promise<void> {
  const run = await requireRun(c, params[0]);
  const body = parseWith(ResumeRunSchema, await readJson(req), 'resume request');
  if (isExternal(run)) throw new HttpError(409, 'INVALID_MESSAGE', `run ${run.id} is external: it is trained elsewhere and cannot be resumed here`);
  const active = c.activeRun;
  // A paused run continues in place (no checkpoint round trip).
  if (active?.runId === run.id && active.isPaused) {
    await c.unpauseRun(run.id);
    sendJson(res, 200, { runId: run.id, step: active.status().step, url: `/runs/${run.id}` });
    return;
  }
  if (active) throw new HttpError(409, 'INVALID_CONFIG', `run ${active.runId} (${active.config.name}) is still training; stop it first`);
  if (run.status === 'finished') throw new HttpError(409, 'INVALID_MESSAGE', `run ${run.id} already finished at step ${run.step}`);
  let session;
  try {
    session = await c.resumeRun(run.id, body.from);
  } catch (err) {
    if (err instanceof CrowdtrainError && err.code === 'CHECKPOINT_INVALID') throw new HttpError(409, err.code, err.message);
    throw err;
  }
  sendJson(res, 200, { runId: run.id, step: session.status().step, url: `/runs/${run.id}` });
}

async function endExternalRun(c: Coordinator, { req, res, params }: RouteContext): Promise<void> {
  const run = await requireRun(c, params[0]);
  const body = parseWith(EndRunSchema, await readJson(req), 'end request');
  if (!isExternal(run)) throw new HttpError(409, 'INVALID_MESSAGE', `run ${run.id} is trained by this coordinator; stop it with POST /api/v1/runs/${run.id}/stop`);
  const updated = await c.store.setRunStatus(run.id, body.status, body.error === undefined ? undefined : { error: body.error });
  sendJson(res, 200, { runId: run.id, status: updated.status });
}

async function createModel(registry: RegistryStore, { req, res }: RouteContext): Promise<void> {
  const body = parseWith(CreateModelSchema, await readJson(req), 'model');
  if (await registry.getModel(body.name)) throw new HttpError(409, 'INVALID_MESSAGE', `a registered model named "${body.name}" already exists`);
  sendJson(res, 201, { model: await registry.createModel(body.name, body.description) });
}

function modelNameParam(raw: string | undefined): string {
  return parseWith(ModelNameSchema, raw ?? '', 'model name');
}

async function getModel(registry: RegistryStore, { res, params }: RouteContext): Promise<void> {
  const name = modelNameParam(params[0]);
  const model = await registry.getModel(name);
  if (!model) throw new HttpError(404, 'RUN_NOT_FOUND', `no registered model named "${name}"`);
  sendJson(res, 200, { model });
}

async function registerVersion(c: Coordinator, registry: RegistryStore, { req, res, params }: RouteContext): Promise<void> {
  const name = modelNameParam(params[0]);
  const body = parseWith(RegisterVersionSchema, await readJson(req), 'model version');
  const run = await requireRun(c, body.run_id);
  const ck = await findCheckpoint(c, run.id, body.checkpoint);
  const version = await registry.registerVersion({ modelName: name, sourceRunId: run.id, sourceCheckpointId: ck.id, description: body.description, aliases: body.aliases });
  sendJson(res, 201, { version });
}

async function setAlias(registry: RegistryStore, { req, res, params }: RouteContext): Promise<void> {
  const name = modelNameParam(params[0]);
  const alias = parseWith(AliasSchema, params[1] ?? '', 'alias');
  const body = parseWith(SetAliasSchema, await readJson(req), 'alias request');
  sendJson(res, 200, { version: await registry.setAlias(name, alias, body.version) });
}

/** A model version exported in the tfjs layers format: model.json (with a manifest naming `weights.bin`) and the weights. */
interface ExportedModel {
  modelJson: Record<string, unknown>;
  weights: Buffer;
}

/** Most exported versions kept in memory (each is the model's float32 weights plus its topology). */
const MAX_CACHED_EXPORTS = 8;

async function resolveVersion(registry: RegistryStore, ctx: RouteContext): Promise<ModelVersionRecord> {
  const name = modelNameParam(ctx.params[0]);
  const which = ctx.params[1] ?? '';
  const version = /^\d+$/.test(which) ? await registry.getVersion(name, Number(which)) : await registry.getVersion(name, parseWith(AliasSchema, which, 'alias'));
  if (!version) throw new HttpError(404, 'RUN_NOT_FOUND', `model "${name}" has no version or alias "${which}"`);
  return version;
}

/**
 * Builds the tfjs layers model of a version's run config (standard conv layers, so any tfjs can
 * load it), loads the checkpoint's parameters into it and serialises it; cached per version.
 */
function exportVersion(c: Coordinator, version: ModelVersionRecord, cache: Map<string, Promise<ExportedModel>>): Promise<ExportedModel> {
  const cached = cache.get(version.id);
  if (cached) return cached;
  const made = (async (): Promise<ExportedModel> => {
    if (!version.sourceRunId || !version.sourceCheckpointId) throw new HttpError(410, 'CHECKPOINT_INVALID', `${version.modelName} v${version.version} lost its source run or checkpoint`);
    const run = await c.store.getRun(version.sourceRunId);
    const ck = await c.store.getCheckpoint(version.sourceRunId, version.sourceCheckpointId);
    if (!run || !ck) throw new HttpError(410, 'CHECKPOINT_INVALID', `${version.modelName} v${version.version}: run ${version.sourceRunId} or its checkpoint is gone`);
    const config = validateRunConfig(JSON.parse(run.config) as unknown);
    const [{ loadDataset }, { GradientComputer }, tf] = await Promise.all([
      import('../../core/data/dataset-spec.ts'),
      import('../../core/models/gradient-computer.ts'),
      import('@tensorflow/tfjs-core'),
      import('@tensorflow/tfjs-backend-cpu'),
    ]);
    const { train } = await loadDataset(config.dataset);
    const content = await readCheckpointFile(ck.path, ck.sha256);
    const computer = GradientComputer.create(config.model, { inputShape: train.inputShape, numClasses: train.numClasses, seed: config.seed, convImplementation: 'native' });
    try {
      computer.setParams(content.params);
      let saved: ExportedModel | null = null;
      await computer.model.save(
        tf.io.withSaveHandler((artifacts) => {
          const data = artifacts.weightData;
          const buffers = data === undefined ? [] : Array.isArray(data) ? data : [data];
          saved = {
            weights: Buffer.concat(buffers.map((b) => Buffer.from(b))),
            modelJson: {
              format: 'layers-model',
              generatedBy: 'crowdtrain',
              convertedBy: null,
              modelTopology: artifacts.modelTopology,
              weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
              userDefinedMetadata: {
                model: version.modelName,
                version: version.version,
                sourceRunId: version.sourceRunId,
                sourceStep: ck.step,
                checkpointSha256: ck.sha256,
                dataset: config.dataset.name,
                inputShape: train.inputShape,
                numClasses: train.numClasses,
              },
            },
          };
          return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } });
        }),
      );
      if (!saved) throw new HttpError(500, 'INTERNAL', 'tfjs did not hand over the model artifacts');
      return saved;
    } finally {
      computer.model.dispose();
    }
  })();
  cache.set(version.id, made);
  made.catch(() => cache.delete(version.id));
  if (cache.size > MAX_CACHED_EXPORTS) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  return made;
}

async function exportModelJson(c: Coordinator, registry: RegistryStore, cache: Map<string, Promise<ExportedModel>>, ctx: RouteContext): Promise<void> {
  const version = await resolveVersion(registry, ctx);
  const exported = await exportVersion(c, version, cache);
  sendJson(ctx.res, 200, exported.modelJson);
}

async function exportWeights(c: Coordinator, registry: RegistryStore, cache: Map<string, Promise<ExportedModel>>, ctx: RouteContext): Promise<void> {
  const version = await resolveVersion(registry, ctx);
  const exported = await exportVersion(c, version, cache);
  ctx.res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': String(exported.weights.length),
    'content-disposition': `attachment; filename="${version.modelName}-v${version.version}.weights.bin"`,
    'cache-control': 'no-store',
  });
  ctx.res.end(ctx.req.method === 'HEAD' ? undefined : exported.weights);
}
