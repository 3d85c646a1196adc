import type http from 'node:http';
import { HealthSchema, JOIN_TOKEN_PLACEHOLDER, StatusSchema, type Status, type StatusJoin } from '../../../core/api/status.ts';
import { checkAdminRequest } from '../admin-auth.ts';
import type { CoordinatorApi } from '../coordinator-api.ts';
import { jsonRoute, type Route } from '../route.ts';
import { progressView } from './api-views.ts';

/** Version string the status page reports. */
export const API_VERSION = '0.1.0';
/** How many recent runs the status page lists. */
export const STATUS_RECENT_RUNS = 20;

/** What the status page says in place of the worker token when it withholds it. */
export const JOIN_TOKEN_HINT =
  'the worker token is shown only to the operator: paste the admin token into the dashboard (top right), ' +
  'or ask the operator for the join link (it is printed at coordinator start; --public-join shows it to everyone)';

/**
 * How to join: with the worker token when `withToken` (an admin-token request, or a
 * `--public-join` coordinator), otherwise with a placeholder and a hint saying how to get it.
 */
export function joinInfo(c: Pick<CoordinatorApi, 'url' | 'workerToken'>, withToken: boolean): StatusJoin {
  const token = withToken ? c.workerToken : JOIN_TOKEN_PLACEHOLDER;
  return {
    command: `npm run worker -- --url ${c.url} --token ${token}`,
    url: c.url,
    // A tab's join link, relative to whatever origin the dashboard was opened on.
    contributePath: withToken ? `/contribute?token=${encodeURIComponent(c.workerToken)}` : null,
    tokenHint: withToken ? null : JOIN_TOKEN_HINT,
  };
}

/** Whether a status request may see the worker token: the coordinator is public-join, or the request carries the admin token. */
export function maySeeJoinToken(c: Pick<CoordinatorApi, 'publicJoin' | 'adminToken'>, req: http.IncomingMessage | undefined): boolean {
  if (c.publicJoin) return true;
  // A missing or wrong admin token is no error on this public read: the token is just withheld.
  return req !== undefined && c.adminToken !== null && checkAdminRequest(req, c.adminToken).ok;
}

/**
 * The `GET /api/v1/status` body: the active runs, the connected workers with their runs, the recent runs with their best
 * accuracy, how to join (the worker token only where {@link maySeeJoinToken}), and the connected shard owners.
 */
export async function statusBody(c: CoordinatorApi, req?: http.IncomingMessage): Promise<Status> {
  const recent = await c.store.listRuns({ take: STATUS_RECENT_RUNS });
  const best = await c.store.maxMetricByRun(
    recent.map((r) => r.id),
    'eval_accuracy',
  );
  return {
    version: API_VERSION,
    activeRuns: c.activeRuns().map((run) => ({
      ...progressView(run.status()),
      experiment: run.config.experiment,
      mode: run.config.mode,
      priority: run.config.priority,
      minWorkers: run.config.min_workers,
      maxWorkers: run.config.max_workers,
    })),
    workers: c.workers().map((w) => ({
      id: w.id,
      name: w.name,
      kind: w.kind,
      backend: w.backend,
      steps: w.steps,
      samples: w.samples,
      samplesPerSec: w.samplesPerSec,
      lastSeenAt: w.lastSeenAt.toISOString(),
      runId: c.runOfWorker(w.id),
    })),
    runs: recent.map((r) => ({
      id: r.id,
      name: r.name,
      status: r.status,
      step: r.step,
      totalUpdates: r.totalUpdates,
      bestAccuracy: best.get(r.id) ?? null,
      createdAt: r.createdAt.toISOString(),
    })),
    join: joinInfo(c, maySeeJoinToken(c, req)),
    modes: Object.values(c.modes).map((m) => ({ name: m.name, summary: m.summary })),
    shardOwners: c.shardOwners().map((o) => ({ id: o.id, name: o.name })),
  };
}

/** Status: the `/` page's `GET /api/v1/status`, and `/healthz` (any method) for load balancers and scripts. */
export function statusRoutes(c: CoordinatorApi): Route[] {
  return [
    jsonRoute({ method: 'ANY', pattern: /^\/healthz$/, response: HealthSchema, handle: () => Promise.resolve({ status: 200, body: { ok: true as const } }) }),
    jsonRoute({ method: 'GET', pattern: /^\/api\/v1\/status$/, response: StatusSchema, handle: async ({ req }) => ({ status: 200, body: await statusBody(c, req) }) }),
  ];
}
