import { z } from 'zod';
import {
  CreatedRunSchema,
  EndResultSchema,
  LogResultSchema,
  MetricHistorySchema,
  MetricKeysSchema,
  PauseResultSchema,
  ResumeResultSchema,
  RunDetailSchema,
  RunEventsSchema,
  RunListSchema,
  StopResultSchema,
} from '../../../core/api/runs.ts';
import { parseRunConfig, validateRunConfig } from '../../../core/config/run-config.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';
import { RunSortSchema, RunStatusSchema } from '../../../prisma/queries/tracking-store.ts';
import type { CoordinatorApi } from '../coordinator-api.ts';
import { flattenParams } from '../../../prisma/queries/tracking-store.ts';
import { HttpError, parseJsonText, parseWith, queryObject, readBody, readJson } from '../http-io.ts';
import { jsonRoute, type Route } from '../route.ts';
import { LogBatchWriter, yieldToEventLoop } from '../log-writer.ts';
import { checkpointView, metricSummaryView, progressView, runSummaryView } from './api-views.ts';
import { METRIC_KEY, isExternal, requireRun } from './run-lookup.ts';
import { EXTERNAL_RUN_MODE } from '../../../core/run/modes.ts';

/** Most metric points one `log` request may carry. */
export const MAX_POINTS_PER_BATCH = 10_000;
/** Most params (after flattening to dotted keys) one `log` or external-run request may carry. */
export const MAX_PARAMS_PER_BATCH = 10_000;
/** Largest step a metric point may have: the Metric.step column is a 32-bit Int (PostgreSQL `integer`). */
export const MAX_METRIC_STEP = 2 ** 31 - 1;
/** Metric keys the runs table summarises when the request names none. */
export const DEFAULT_SUMMARY_KEYS = ['train_loss', 'eval_loss', 'eval_accuracy'] as const;

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
    step: z.number().int().nonnegative().max(MAX_METRIC_STEP, `step must be <= ${MAX_METRIC_STEP} (a 32-bit integer)`),
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

/**
 * A metric value JSON.parse turned into ±Infinity (a literal beyond ±1.8e308): 400 naming the
 * point's key and step. Non-finite values are rejected, never stored (they would read back as null).
 */
function rejectNonFiniteMetrics(raw: unknown): void {
  if (typeof raw !== 'object' || raw === null || !('metrics' in raw) || !Array.isArray(raw.metrics)) return;
  (raw.metrics as unknown[]).forEach((m, i) => {
    if (typeof m !== 'object' || m === null) return;
    const { key, step, value } = m as { key?: unknown; step?: unknown; value?: unknown };
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw new HttpError(
        400,
        'NON_FINITE',
        `invalid log batch: metrics.${i}: metric "${String(key)}" at step ${String(step)} has a non-finite value (${String(value)}; a number beyond ±1.8e308 overflows a double): values must be finite`,
      );
    }
  });
}

/** Flattens request params to dotted keys, refusing more than {@link MAX_PARAMS_PER_BATCH} (400 naming the limit). */
function boundedParams(params: Record<string, unknown>, what: string): number {
  const count = flattenParams(params).length;
  if (count > MAX_PARAMS_PER_BATCH) throw new HttpError(400, 'OVERSIZED', `invalid ${what}: ${count} params (after flattening) exceed the limit of ${MAX_PARAMS_PER_BATCH} per request`);
  return count;
}

const RUNS = /^\/api\/v1\/runs$/;
const RUN = (suffix = '') => new RegExp(`^/api/v1/runs/([^/]+)${suffix}$`);

/** Runs: list, start, track external runs, detail, metrics, events, log, stop, pause, resume, end. */
export function runRoutes(c: CoordinatorApi): Route[] {
  const notTraining = (runId: string, status: string) => `run ${runId} is not training on this coordinator (status ${status})`;
  return [
    jsonRoute({
      method: 'GET',
      pattern: RUNS,
      response: RunListSchema,
      async handle({ url }) {
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
        const ids = runs.map((r) => r.id);
        const [summaries, contributors] = await Promise.all([c.store.summarizeRunMetrics(ids, q.keys), c.store.countContributors(ids)]);
        const liveWorkers = (runId: string) => c.activeSession(runId)?.status().activeWorkers ?? null;
        return {
          status: 200,
          body: {
            total,
            take: q.take,
            skip: q.skip,
            runs: runs.map((r) => runSummaryView(r, summaries.filter((s) => s.runId === r.id), liveWorkers(r.id), contributors.get(r.id) ?? 0)),
          },
        };
      },
    }),
    jsonRoute({
      method: 'POST',
      pattern: RUNS,
      admin: true,
      response: CreatedRunSchema,
      async handle({ req }) {
        const type = (req.headers['content-type'] ?? 'application/json').toLowerCase();
        const text = await readBody(req);
        const config = /yaml|text\/plain/.test(type) ? parseRunConfig(text, 'request body', c.modes) : validateRunConfig(parseJsonText(text), c.modes);
        const session = await c.startRun(config);
        const run = await c.store.getRun(session.runId);
        if (!run) throw new HttpError(500, 'INTERNAL', `run ${session.runId} vanished after start`);
        return { status: 201, body: { run: runSummaryView(run, [], session.status().activeWorkers), url: `/runs/${run.id}` } };
      },
    }),
    jsonRoute({
      method: 'POST',
      pattern: /^\/api\/v1\/runs\/external$/,
      admin: true,
      response: CreatedRunSchema,
      async handle({ req }) {
        const body = parseWith(ExternalRunSchema, await readJson(req), 'external run');
        boundedParams(body.params, 'external run');
        const exp = await c.store.ensureExperiment(body.experiment);
        const created = await c.store.createRun({
          experimentId: exp.id,
          name: body.name,
          mode: EXTERNAL_RUN_MODE,
          config: { external: true, name: body.name, experiment: body.experiment },
          seed: 0,
          totalUpdates: 0,
          description: body.description,
        });
        await c.store.logParams(created.id, body.params);
        await c.store.setRunStatus(created.id, 'running');
        const run = await c.store.getRun(created.id);
        if (!run) throw new HttpError(500, 'INTERNAL', `run ${created.id} vanished after creation`);
        return { status: 201, body: { run: runSummaryView(run, [], null), url: `/runs/${run.id}` } };
      },
    }),
    jsonRoute({
      method: 'GET',
      pattern: RUN(),
      response: RunDetailSchema,
      async handle({ params }) {
        const run = await requireRun(c.store, params[0]);
        const [runParams, metrics, checkpoints] = await Promise.all([c.store.getParams(run.id), c.store.summarizeRunMetrics([run.id]), c.store.listCheckpoints(run.id)]);
        const live = c.activeSession(run.id)?.status() ?? null;
        let config: unknown;
        try {
          config = JSON.parse(run.config) as unknown;
        } catch {
          config = run.config;
        }
        return {
          status: 200,
          body: {
            run: runSummaryView(run, metrics, live?.activeWorkers ?? null),
            params: runParams,
            config,
            checkpoints: checkpoints.map((ck) => checkpointView(run.id, ck)),
            live: live ? progressView(live) : null,
          },
        };
      },
    }),
    jsonRoute({
      method: 'GET',
      pattern: RUN('/metrics'),
      response: MetricKeysSchema,
      async handle({ params }) {
        const run = await requireRun(c.store, params[0]);
        const metrics = await c.store.summarizeRunMetrics([run.id]);
        return { status: 200, body: { runId: run.id, metrics: metrics.map((m) => ({ key: m.key, ...metricSummaryView(m) })) } };
      },
    }),
    jsonRoute({
      method: 'GET',
      pattern: RUN('/metrics/([^/]+)'),
      response: MetricHistorySchema,
      async handle({ url, params }) {
        const run = await requireRun(c.store, params[0]);
        const key = params[1] ?? '';
        if (!METRIC_KEY.test(key)) throw new HttpError(400, 'INVALID_MESSAGE', `"${key}" is not a metric key`);
        const q = parseWith(MetricHistoryQuerySchema, queryObject(url), 'query');
        const points = await c.store.getMetricHistoryAfter(run.id, key, q.after_step, q.limit);
        return { status: 200, body: { runId: run.id, key, points: points.map((p) => ({ step: p.step, value: p.value, time: p.time.toISOString() })) } };
      },
    }),
    jsonRoute({
      method: 'GET',
      pattern: RUN('/events'),
      response: RunEventsSchema,
      async handle({ params }) {
        const run = await requireRun(c.store, params[0]);
        const events = await c.store.listEvents(run.id);
        return {
          status: 200,
          body: { runId: run.id, events: events.map((e) => ({ id: e.id, runId: e.runId, workerId: e.workerId, time: e.time.toISOString(), kind: e.kind, detail: e.detail })) },
        };
      },
    }),
    jsonRoute({
      method: 'POST',
      pattern: RUN('/log'),
      admin: true,
      response: LogResultSchema,
      async handle({ req, params }) {
        const run = await requireRun(c.store, params[0]);
        // A maximal batch (10,000 params and points, about 1 MB) costs tens of ms to parse, check
        // and write: each stage gets its own turn of the event loop, and the writer writes in
        // small chunks, so sockets, /healthz and training keep going meanwhile.
        const raw = await readJson(req);
        await yieldToEventLoop();
        rejectNonFiniteMetrics(raw);
        const body = parseWith(LogBatchSchema, raw, 'log batch');
        await yieldToEventLoop();
        boundedParams(body.params, 'log batch');
        const writer = new LogBatchWriter(c.store);
        await writer.writeParams(run.id, body.params);
        if (body.metrics.length > 0) {
          await writer.writeMetrics(
            run.id,
            body.metrics.map((m) => ({ key: m.key, step: m.step, value: m.value, time: m.time === undefined ? undefined : new Date(m.time) })),
          );
          // External runs report their progress through the steps they log.
          if (isExternal(run)) {
            const top = Math.max(...body.metrics.map((m) => m.step));
            if (top > run.step) await c.store.setRunProgress(run.id, top);
          }
        }
        return { status: 200, body: { runId: run.id, logged: { metrics: body.metrics.length, params: Object.keys(body.params).length } } };
      },
    }),
    jsonRoute({
      method: 'POST',
      pattern: RUN('/stop'),
      admin: true,
      response: StopResultSchema,
      async handle({ req, params }) {
        const run = await requireRun(c.store, params[0]);
        await readBody(req);
        if (!c.activeSession(run.id)) {
          throw new HttpError(409, 'NO_ACTIVE_RUN', `${notTraining(run.id, run.status)}${isExternal(run) ? `; end an external run with POST /api/v1/runs/${run.id}/end` : ''}`);
        }
        return { status: 200, body: { runId: run.id, outcome: await c.stopRun(run.id) } };
      },
    }),
    jsonRoute({
      method: 'POST',
      pattern: RUN('/pause'),
      admin: true,
      response: PauseResultSchema,
      async handle({ req, params }) {
        const run = await requireRun(c.store, params[0]);
        await readBody(req);
        const active = c.activeSession(run.id);
        if (!active) throw new HttpError(409, 'NO_ACTIVE_RUN', notTraining(run.id, run.status));
        // The current update is abandoned (its samples go back) and none is applied until resume.
        await c.pauseRun(run.id);
        return { status: 200, body: { runId: run.id, status: 'paused' as const, step: active.status().step } };
      },
    }),
    jsonRoute({
      method: 'POST',
      pattern: RUN('/resume'),
      admin: true,
      response: ResumeResultSchema,
      async handle({ req, params }) {
        const run = await requireRun(c.store, params[0]);
        const body = parseWith(ResumeRunSchema, await readJson(req), 'resume request');
        if (isExternal(run)) throw new HttpError(409, 'INVALID_MESSAGE', `run ${run.id} is external: it is trained elsewhere and cannot be resumed here`);
        const active = c.activeSession(run.id);
        // A paused run continues in place (no checkpoint round trip).
        if (active?.isPaused) {
          await c.unpauseRun(run.id);
          return { status: 200, body: { runId: run.id, step: active.status().step, url: `/runs/${run.id}` } };
        }
        if (active) throw new HttpError(409, 'RUN_CONFLICT', `run ${run.id} (${active.config.name}) is already training`);
        if (run.status === 'finished') throw new HttpError(409, 'INVALID_MESSAGE', `run ${run.id} already finished at step ${run.step}`);
        let session;
        try {
          session = await c.resumeRun(run.id, body.from);
        } catch (err) {
          if (err instanceof CrowdtrainError && err.code === 'CHECKPOINT_INVALID') throw new HttpError(409, err.code, err.message, { cause: err });
          throw err;
        }
        return { status: 200, body: { runId: run.id, step: session.status().step, url: `/runs/${run.id}` } };
      },
    }),
    jsonRoute({
      method: 'POST',
      pattern: RUN('/end'),
      admin: true,
      response: EndResultSchema,
      async handle({ req, params }) {
        const run = await requireRun(c.store, params[0]);
        const body = parseWith(EndRunSchema, await readJson(req), 'end request');
        if (!isExternal(run)) throw new HttpError(409, 'INVALID_MESSAGE', `run ${run.id} is trained by this coordinator; stop it with POST /api/v1/runs/${run.id}/stop`);
        const updated = await c.store.setRunStatus(run.id, body.status, body.error === undefined ? undefined : { error: body.error });
        return { status: 200, body: { runId: run.id, status: updated.status } };
      },
    }),
  ];
}
