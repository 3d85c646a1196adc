import type http from 'node:http';
import type { z } from 'zod';
import type { RunStreamEvent, RunStreamEventSchemas, StreamMetricPoint } from '../../../core/api/stream.ts';
import type { CoordinatorApi, LiveRunProgress, RunOutcomeView } from '../coordinator-api.ts';
import { rawRoute, type Route } from '../route.ts';
import { progressView } from './api-views.ts';
import { requireRun } from './run-lookup.ts';

/** Least time between two `progress` events, and how long metric points are batched into one `metrics` event. */
export const STREAM_THROTTLE_MS = 500;
/** Interval of the comment line that keeps proxies from closing an idle stream. */
export const STREAM_HEARTBEAT_MS = 15_000;

type EventData<E extends RunStreamEvent> = z.infer<(typeof RunStreamEventSchemas)[E]>;

/** Writes one server-sent event whose data is typed by the core/api schema of its name. */
function sendEvent<E extends RunStreamEvent>(res: http.ServerResponse, event: E, data: EventData<E>): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/**
 * The run stream: server-sent events for one run, fed by the coordinator's in-memory events so
 * viewers never poll the database: `progress` (at most every 500 ms), `metrics` (new points, batched
 * every 500 ms), `checkpoint`, and `ended` (then the stream closes; at once for a run not training).
 */
export function streamRoutes(c: CoordinatorApi): Route[] {
  return [
    rawRoute({
      method: 'GET',
      pattern: /^\/api\/v1\/runs\/([^/]+)\/stream$/,
      async handle({ req, res, params }) {
        const run = await requireRun(c.store, params[0]);
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
        const active = c.activeRun?.runId === run.id ? c.activeRun : null;
        if (!active) {
          sendEvent(res, 'ended', { runId: run.id, status: run.status, step: run.step });
          res.end();
          return;
        }
        let lastSent = 0;
        let pending: ReturnType<typeof setTimeout> | null = null;
        const onProgress = (p: LiveRunProgress) => {
          if (p.runId !== run.id) return;
          const emit = () => {
            lastSent = Date.now();
            pending = null;
            sendEvent(res, 'progress', progressView(p));
          };
          const sinceLast = Date.now() - lastSent;
          if (sinceLast >= STREAM_THROTTLE_MS) emit();
          else if (!pending) {
            pending = setTimeout(emit, STREAM_THROTTLE_MS - sinceLast);
            pending.unref();
          }
        };
        const onCheckpoint = (ck: { runId: string; step: number; reason: string }) => {
          if (ck.runId === run.id) sendEvent(res, 'checkpoint', { runId: ck.runId, step: ck.step, reason: ck.reason });
        };
        // Metric points straight from the run session's memory, batched to one event per 500 ms.
        let metricBatch: StreamMetricPoint[] = [];
        let metricTimer: ReturnType<typeof setTimeout> | null = null;
        const flushMetrics = () => {
          metricTimer = null;
          if (metricBatch.length === 0) return;
          sendEvent(res, 'metrics', { runId: run.id, points: metricBatch });
          metricBatch = [];
        };
        const onMetrics = (runId: string, points: readonly StreamMetricPoint[]) => {
          if (runId !== run.id) return;
          for (const p of points) metricBatch.push({ key: p.key, step: p.step, value: p.value });
          if (!metricTimer) {
            metricTimer = setTimeout(flushMetrics, STREAM_THROTTLE_MS);
            metricTimer.unref();
          }
        };
        const onEnded = (runId: string, outcome: RunOutcomeView) => {
          if (runId !== run.id) return;
          if (metricTimer) clearTimeout(metricTimer);
          flushMetrics();
          sendEvent(res, 'ended', { runId, status: outcome.status, step: outcome.step, reason: outcome.reason, evalAccuracy: outcome.evalAccuracy, evalLoss: outcome.evalLoss });
          cleanup();
          res.end();
        };
        const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), STREAM_HEARTBEAT_MS);
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
        sendEvent(res, 'progress', progressView(active.status()));
      },
    }),
  ];
}
