import type http from 'node:http';
import type { Coordinator } from '../coordinator.ts';
import { createRestApiHandler } from './rest-api.ts';
import { createTabDownloadsHandler } from './dataset-route.ts';

const RUN_ID = /^[A-Za-z0-9_-]{1,64}$/;
const METRIC_KEY = /^[A-Za-z0-9_./-]{1,128}$/;

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function notFound(res: http.ServerResponse, what: string): void {
  sendJson(res, 404, { error: { code: 'RUN_NOT_FOUND', message: what } });
}

/**
 * The read-only JSON API under /api/v1 and /healthz. Returns true when it handled the request.
 * GET /api/v1/status, /api/v1/runs, /api/v1/runs/:id, /api/v1/runs/:id/metrics/:key, /api/v1/runs/:id/events.
 */
export function createApiHandler(c: Coordinator): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean> {
  const tabDownloads = createTabDownloadsHandler({ activeDatasetSpec: () => c.activeRun?.config.dataset ?? null });
  const rest = createRestApiHandler(c);
  return async (req, res) => {
    if (await tabDownloads(req, res)) return true;
    const url = new URL(req.url ?? '/', 'http://localhost');
    const p = url.pathname;
    if (p === '/healthz') {
      sendJson(res, 200, { ok: true });
      return true;
    }
    if (!p.startsWith('/api/v1/')) return false;
    // The REST API (writes with admin auth, extended reads) answers first.
    if (await rest(req, res)) return true;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      sendJson(res, 405, { error: { code: 'INVALID_MESSAGE', message: `${req.method} is not allowed on ${p}` } });
      return true;
    }
    const parts = p.slice('/api/v1/'.length).split('/').filter(Boolean);
    if (parts[0] === 'status' && parts.length === 1) {
      sendJson(res, 200, await statusBody(c));
      return true;
    }
    if (parts[0] === 'runs') {
      if (parts.length === 1) {
        const take = Math.min(Math.max(Number(url.searchParams.get('take') ?? 50) || 50, 1), 500);
        const skip = Math.max(Number(url.searchParams.get('skip') ?? 0) || 0, 0);
        sendJson(res, 200, { runs: await c.store.listRuns({ take, skip }) });
        return true;
      }
      const runId = parts[1] ?? '';
      if (!RUN_ID.test(runId)) {
        sendJson(res, 400, { error: { code: 'INVALID_MESSAGE', message: `"${runId}" is not a run id` } });
        return true;
      }
      const run = await c.store.getRun(runId);
      if (!run) {
        notFound(res, `no run with id ${runId}`);
        return true;
      }
      if (parts.length === 2) {
        sendJson(res, 200, { run, params: await c.store.getParams(runId) });
        return true;
      }
      if (parts[2] === 'metrics' && parts.length === 4) {
        const key = decodeURIComponent(parts[3] ?? '');
        if (!METRIC_KEY.test(key)) {
          sendJson(res, 400, { error: { code: 'INVALID_MESSAGE', message: `"${key}" is not a metric key` } });
          return true;
        }
        sendJson(res, 200, { runId, key, points: await c.store.getMetricHistory(runId, key) });
        return true;
      }
      if (parts[2] === 'events' && parts.length === 3) {
        sendJson(res, 200, { runId, events: await c.store.listEvents(runId) });
        return true;
      }
    }
    sendJson(res, 404, { error: { code: 'INVALID_MESSAGE', message: `no API route ${p}` } });
    return true;
  };
}

async function statusBody(c: Coordinator): Promise<unknown> {
  const active = c.activeRun;
  const workers = c.workers();
  const recent = await c.store.listRuns({ take: 20 });
  const best = await c.store.maxMetricByRun(
    recent.map((r) => r.id),
    'eval_accuracy',
  );
  const status = active?.status();
  const baseUrl = c.url;
  return {
    version: '0.1.0',
    run:
      active && status
        ? {
            id: active.runId,
            name: active.config.name,
            experiment: active.config.experiment,
            status: status.status,
            mode: active.config.mode,
            step: status.step,
            totalUpdates: status.totalUpdates,
            epoch: status.epoch,
            trainLoss: status.trainLoss,
            evalLoss: status.evalLoss,
            evalAccuracy: status.evalAccuracy,
            lr: status.lr,
            samplesPerSec: status.samplesPerSec,
            startedAt: status.startedAt.toISOString(),
            workers: workers.map((w) => ({
              id: w.id,
              name: w.name,
              kind: w.kind,
              backend: w.backend,
              steps: w.steps,
              samples: w.samples,
              samplesPerSec: w.samplesPerSec,
              lastSeenAt: w.lastSeenAt.toISOString(),
            })),
          }
        : null,
    runs: recent.map((r) => ({
      id: r.id,
      name: r.name,
      status: r.status,
      step: r.step,
      totalUpdates: r.totalUpdates,
      bestAccuracy: best.get(r.id) ?? null,
      createdAt: r.createdAt instanceof Date ? r.createdAt.toISOString() : String(r.createdAt),
    })),
    join: {
      command: `npm run worker -- --url ${baseUrl} --token ${c.workerToken}`,
      url: baseUrl,
      /** Join link of a browser tab, relative to whatever origin the dashboard was opened on. */
      contributePath: `/contribute?token=${encodeURIComponent(c.workerToken)}`,
    },
  };
}
