import type http from 'node:http';
import type { z } from 'zod';
import type { RunStreamEvent, RunStreamEventSchemas, StreamMetricPoint } from '../../../core/api/stream.ts';
import type { CoordinatorApi, LiveRunProgress, RunOutcomeView } from '../coordinator-api.ts';
import { rawRoute, type Route } from '../route.ts';
import { sendJson } from '../http-io.ts';
import { progressView } from './api-views.ts';
import { requireRun } from './run-lookup.ts';

/** Least time between two `progress` events, and how long metric points are batched into one `metrics` event. */
export const STREAM_THROTTLE_MS = 500;
/** Interval of the comment line that keeps proxies from closing an idle stream. */
export const STREAM_HEARTBEAT_MS = 15_000;
/** Open run streams one remote address may hold (a dashboard tab holds one). */
export const MAX_STREAMS_PER_ADDRESS = 8;
/** Open run streams in total (each holds a file descriptor). */
export const MAX_STREAMS_TOTAL = 256;

type EventData<E extends RunStreamEvent> = z.infer<(typeof RunStreamEventSchemas)[E]>;

/** Writes one server-sent event whose data is typed by the core/api schema of its name. */
function sendEvent<E extends RunStreamEvent>(res: http.ServerResponse, event: E, data: EventData<E>): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/**
 * One run's shared fan-out: a single set of coordinator event listeners per run, however many
 * streams watch it; progress is throttled and metric points batched once for all of them. It
 * detaches when its last stream closes or the run ends.
 */
class RunFanOut {
  readonly streams = new Set<http.ServerResponse>();
  private lastSent = 0;
  private pending: ReturnType<typeof setTimeout> | null = null;
  private latest: LiveRunProgress | null = null;
  private metricBatch: StreamMetricPoint[] = [];
  private metricTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private detached = false;

  constructor(
    private readonly c: CoordinatorApi,
    readonly runId: string,
    private readonly onIdle: () => void,
  ) {
    c.events.on('progress', this.onProgress);
    c.events.on('metrics', this.onMetrics);
    c.events.on('checkpoint', this.onCheckpoint);
    c.events.on('run-ended', this.onEnded);
    this.heartbeat = setInterval(() => {
      for (const res of this.streams) res.write(': keep-alive\n\n');
    }, STREAM_HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  add(res: http.ServerResponse): void {
    this.streams.add(res);
  }

  remove(res: http.ServerResponse): void {
    this.streams.delete(res);
    if (this.streams.size === 0) this.detach();
  }

  private broadcast<E extends RunStreamEvent>(event: E, data: EventData<E>): void {
    for (const res of this.streams) sendEvent(res, event, data);
  }

  private readonly onProgress = (p: LiveRunProgress) => {
    if (p.runId !== this.runId) return;
    this.latest = p;
    const sinceLast = Date.now() - this.lastSent;
    if (sinceLast >= STREAM_THROTTLE_MS) this.emitProgress();
    else if (!this.pending) {
      this.pending = setTimeout(() => this.emitProgress(), STREAM_THROTTLE_MS - sinceLast);
      this.pending.unref();
    }
  };

  private emitProgress(): void {
    this.lastSent = Date.now();
    this.pending = null;
    if (this.latest) this.broadcast('progress', progressView(this.latest));
  }

  private readonly onCheckpoint = (ck: { runId: string; step: number; reason: string }) => {
    if (ck.runId === this.runId) this.broadcast('checkpoint', { runId: ck.runId, step: ck.step, reason: ck.reason });
  };

  // Metric points straight from the run session's memory, batched to one event per 500 ms.
  private readonly onMetrics = (runId: string, points: readonly StreamMetricPoint[]) => {
    if (runId !== this.runId) return;
    for (const p of points) this.metricBatch.push({ key: p.key, step: p.step, value: p.value });
    if (!this.metricTimer) {
      this.metricTimer = setTimeout(() => this.flushMetrics(), STREAM_THROTTLE_MS);
      this.metricTimer.unref();
    }
  };

  private flushMetrics(): void {
    this.metricTimer = null;
    if (this.metricBatch.length === 0) return;
    this.broadcast('metrics', { runId: this.runId, points: this.metricBatch });
    this.metricBatch = [];
  }

  private readonly onEnded = (runId: string, outcome: RunOutcomeView) => {
    if (runId !== this.runId) return;
    if (this.metricTimer) clearTimeout(this.metricTimer);
    this.flushMetrics();
    this.broadcast('ended', { runId, status: outcome.status, step: outcome.step, reason: outcome.reason, evalAccuracy: outcome.evalAccuracy, evalLoss: outcome.evalLoss });
    const streams = [...this.streams];
    this.streams.clear();
    this.detach();
    for (const res of streams) res.end();
  };

  private detach(): void {
    if (this.detached) return;
    this.detached = true;
    clearInterval(this.heartbeat);
    if (this.pending) clearTimeout(this.pending);
    if (this.metricTimer) clearTimeout(this.metricTimer);
    this.c.events.off('metrics', this.onMetrics);
    this.c.events.off('progress', this.onProgress);
    this.c.events.off('checkpoint', this.onCheckpoint);
    this.c.events.off('run-ended', this.onEnded);
    this.onIdle();
  }
}

/**
 * The run stream: server-sent events for one run, fed by the coordinator's in-memory events so
 * viewers never poll the database: `progress` (at most every 500 ms), `metrics` (new points, batched
 * every 500 ms), `checkpoint`, and `ended` (then the stream closes; at once for a run not training).
 * Streams are capped ({@link MAX_STREAMS_PER_ADDRESS}, {@link MAX_STREAMS_TOTAL}: 429 with a JSON
 * error naming the limit) and every stream of a run shares one fan-out.
 */
export function streamRoutes(c: CoordinatorApi): Route[] {
  const fanOuts = new Map<string, RunFanOut>();
  const perAddress = new Map<string, number>();
  let total = 0;
  /** Takes a stream slot for `address`, released once when the response closes; null (429 sent) over a cap. */
  const reserve = (address: string, res: http.ServerResponse): boolean => {
    const mine = perAddress.get(address) ?? 0;
    const over =
      total >= MAX_STREAMS_TOTAL
        ? { name: 'MAX_STREAMS_TOTAL', value: MAX_STREAMS_TOTAL, message: `too many open run streams (limit ${MAX_STREAMS_TOTAL} in total); try again later` }
        : mine >= MAX_STREAMS_PER_ADDRESS
          ? { name: 'MAX_STREAMS_PER_ADDRESS', value: MAX_STREAMS_PER_ADDRESS, message: `too many open run streams from ${address} (limit ${MAX_STREAMS_PER_ADDRESS} per address); close one first` }
          : null;
    if (over) {
      sendJson(res, 429, { error: { code: 'INVALID_MESSAGE', message: over.message }, limit: { name: over.name, value: over.value } });
      return false;
    }
    total += 1;
    perAddress.set(address, mine + 1);
    let released = false;
    res.once('close', () => {
      if (released) return;
      released = true;
      total -= 1;
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left <= 0) perAddress.delete(address);
      else perAddress.set(address, left);
    });
    return true;
  };
  return [
    rawRoute({
      method: 'GET',
      pattern: /^\/api\/v1\/runs\/([^/]+)\/stream$/,
      async handle({ req, res, params }) {
        if (!reserve(req.socket.remoteAddress ?? 'unknown', res)) return;
        const run = await requireRun(c.store, params[0]);
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
        const active = c.activeSession(run.id);
        if (!active) {
          sendEvent(res, 'ended', { runId: run.id, status: run.status, step: run.step });
          res.end();
          return;
        }
        let fan = fanOuts.get(run.id);
        if (!fan) {
          const created = new RunFanOut(c, run.id, () => {
            if (fanOuts.get(run.id) === created) fanOuts.delete(run.id);
          });
          fanOuts.set(run.id, created);
          fan = created;
        }
        const joined = fan;
        joined.add(res);
        req.on('close', () => joined.remove(res));
        sendEvent(res, 'progress', progressView(active.status()));
      },
    }),
  ];
}
