import { LiveFleetSchema, RunFleetSchema, type LiveWorker, type RunFleetWorker } from '../../../core/api/fleet.ts';
import type { CoordinatorApi, LiveWorkerInfo } from '../coordinator-api.ts';
import { jsonRoute, type Route } from '../route.ts';
import { requireRun } from './run-lookup.ts';

/** A worker whose samples/s is below this fraction of the fleet median is marked a straggler. */
export const STRAGGLER_FRACTION = 0.5;

/**
 * Ids of the workers whose samples/s is below {@link STRAGGLER_FRACTION} of the fleet median (none with fewer than two rates known).
 * @example stragglerIds([{ id: 'a', samplesPerSec: 100 }, { id: 'b', samplesPerSec: 10 }, { id: 'c', samplesPerSec: 90 }]) // Set {'b'}
 */
export function stragglerIds(rates: readonly { id: string; samplesPerSec: number | null }[]): Set<string> {
  const known = rates.filter((r): r is { id: string; samplesPerSec: number } => r.samplesPerSec !== null).sort((a, b) => a.samplesPerSec - b.samplesPerSec);
  if (known.length < 2) return new Set();
  const mid = known.length / 2;
  const median = known.length % 2 === 1 ? (known[Math.floor(mid)]?.samplesPerSec ?? 0) : ((known[mid - 1]?.samplesPerSec ?? 0) + (known[mid]?.samplesPerSec ?? 0)) / 2;
  return new Set(known.filter((r) => r.samplesPerSec < STRAGGLER_FRACTION * median).map((r) => r.id));
}

/** The connected workers as core/api LiveWorkers, each with the run it serves; stragglers are marked among the workers of the same run. */
export function liveWorkerViews(workers: readonly LiveWorkerInfo[], runOf: (workerId: string) => string | null): LiveWorker[] {
  const byRun = new Map<string | null, LiveWorkerInfo[]>();
  for (const w of workers) {
    const r = runOf(w.id);
    byRun.set(r, [...(byRun.get(r) ?? []), w]);
  }
  const stragglers = new Set([...byRun.entries()].filter(([r]) => r !== null).flatMap(([, ws]) => [...stragglerIds(ws)]));
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
    share: w.share,
    runId: runOf(w.id),
  }));
}

function parseDeviceInfo(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

const sum = <T>(items: readonly T[], of: (item: T) => number): number => items.reduce((s, item) => s + of(item), 0);

/** Fleet: the workers connected now, and every worker that contributed to a run. */
export function fleetRoutes(c: CoordinatorApi): Route[] {
  return [
    jsonRoute({
      method: 'GET',
      pattern: /^\/api\/v1\/fleet$/,
      response: LiveFleetSchema,
      handle() {
        const workers = liveWorkerViews(c.workers(), (id) => c.runOfWorker(id));
        const runs = c.activeRuns().map((run) => {
          const members = workers.filter((w) => w.runId === run.runId);
          const p = run.status();
          return {
            runId: run.runId,
            name: run.config.name,
            status: p.status,
            priority: run.config.priority,
            minWorkers: run.config.min_workers,
            maxWorkers: run.config.max_workers,
            workers: members.length,
            memberSamplesPerSec: sum(members, (w) => w.samplesPerSec ?? 0),
            runSamplesPerSec: p.samplesPerSec,
          };
        });
        return Promise.resolve({
          status: 200,
          body: {
            runs,
            workers,
            totals: {
              workers: workers.length,
              idle: workers.filter((w) => w.runId === null).length,
              samples: sum(workers, (w) => w.samples),
              rejected: sum(workers, (w) => w.rejected),
            },
          },
        });
      },
    }),
    jsonRoute({
      method: 'GET',
      pattern: /^\/api\/v1\/runs\/([^/]+)\/fleet$/,
      response: RunFleetSchema,
      async handle({ params }) {
        const run = await requireRun(c.store, params[0]);
        const entries = await c.store.listFleet(run.id);
        const live = new Map(liveWorkerViews(c.workers(), (id) => c.runOfWorker(id)).filter((w) => w.runId === run.id).map((w) => [w.id, w]));
        const workers = entries.map((e): RunFleetWorker => {
          const l = live.get(e.workerId);
          return {
            id: e.workerId,
            name: e.worker.name ?? e.workerId,
            kind: e.worker.kind,
            backend: e.worker.backend,
            deviceInfo: parseDeviceInfo(e.worker.deviceInfo),
            userAgent: e.worker.userAgent,
            connected: l !== undefined,
            lastSeenAt: l?.lastSeenAt ?? e.worker.lastSeenAt.toISOString(),
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
        return {
          status: 200,
          body: {
            runId: run.id,
            workers,
            totals: {
              workers: workers.length,
              connected: workers.filter((w) => w.connected).length,
              steps: sum(workers, (w) => w.steps),
              samples: sum(workers, (w) => w.samples),
              bytesIn: sum(workers, (w) => w.bytesIn),
              bytesOut: sum(workers, (w) => w.bytesOut),
              rejected: sum(workers, (w) => w.rejected),
            },
          },
        };
      },
    }),
  ];
}
