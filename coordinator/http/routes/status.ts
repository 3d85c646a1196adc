import { HealthSchema, StatusSchema, type Status } from '../../../core/api/status.ts';
import type { CoordinatorApi } from '../coordinator-api.ts';
import { jsonRoute, type Route } from '../route.ts';

/** Version string the status page reports. */
export const API_VERSION = '0.1.0';
/** How many recent runs the status page lists. */
export const STATUS_RECENT_RUNS = 20;

/** The `GET /api/v1/status` body: the active run with its workers, the recent runs with their best accuracy, and how to join. */
export async function statusBody(c: CoordinatorApi): Promise<Status> {
  const active = c.activeRun;
  const recent = await c.store.listRuns({ take: STATUS_RECENT_RUNS });
  const best = await c.store.maxMetricByRun(
    recent.map((r) => r.id),
    'eval_accuracy',
  );
  const progress = active?.status();
  return {
    version: API_VERSION,
    run:
      active && progress
        ? {
            id: active.runId,
            name: active.config.name,
            experiment: active.config.experiment,
            status: progress.status,
            mode: active.config.mode,
            step: progress.step,
            totalUpdates: progress.totalUpdates,
            epoch: progress.epoch,
            trainLoss: progress.trainLoss,
            evalLoss: progress.evalLoss,
            evalAccuracy: progress.evalAccuracy,
            lr: progress.lr,
            samplesPerSec: progress.samplesPerSec,
            startedAt: progress.startedAt.toISOString(),
            workers: c.workers().map((w) => ({
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
      createdAt: r.createdAt.toISOString(),
    })),
    join: {
      command: `npm run worker -- --url ${c.url} --token ${c.workerToken}`,
      url: c.url,
      // A tab's join link, relative to whatever origin the dashboard was opened on.
      contributePath: `/contribute?token=${encodeURIComponent(c.workerToken)}`,
    },
    modes: Object.values(c.modes).map((m) => ({ name: m.name, summary: m.summary })),
  };
}

/** Status: the `/` page's `GET /api/v1/status`, and `/healthz` (any method) for load balancers and scripts. */
export function statusRoutes(c: CoordinatorApi): Route[] {
  return [
    jsonRoute({ method: 'ANY', pattern: /^\/healthz$/, response: HealthSchema, handle: () => Promise.resolve({ status: 200, body: { ok: true as const } }) }),
    jsonRoute({ method: 'GET', pattern: /^\/api\/v1\/status$/, response: StatusSchema, handle: async () => ({ status: 200, body: await statusBody(c) }) }),
  ];
}
