/** Read-only views of sweeps for the REST API: sweep rows with their trial runs, the trials' sweep Events, and per-trial best metric values. */
import type { TrackingPrismaClient } from '../db.ts';

/** The Event kinds the sweep runner records on a trial's run. */
export const SWEEP_EVENT_KINDS = ['sweep_trial_started', 'sweep_trial_stopped', 'sweep_trial_ended'] as const;

/** What a sweep optimises: a metric key and its direction. */
export interface SweepObjective {
  metric: string;
  mode: 'min' | 'max';
}

/** A trial run of a sweep, as far as the sweep views read it. */
export interface SweepTrialRunRecord {
  id: string;
  name: string;
  status: string;
  step: number;
  totalUpdates: number;
  createdAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
}

/** A sweep row with its search space parsed, its stored objective (null when the row has none) and its trial runs in creation order. */
export interface SweepViewRecord {
  id: string;
  name: string;
  algorithm: string;
  status: string;
  createdAt: Date;
  searchSpace: unknown;
  objective: SweepObjective | null;
  trials: SweepTrialRunRecord[];
}

/** A sweep Event of a trial run, its detail parsed (null when it is not JSON). */
export interface SweepEventRecord {
  runId: string;
  kind: string;
  time: Date;
  detail: unknown;
}

/** How far a trial's metric counts toward its best: up to `maxStep` (the step a scheduler stopped it at), or every point when null. */
export interface TrialMetricBound {
  runId: string;
  maxStep: number | null;
}

/** OR-conditions per metric query (each a bound or a list of run ids), to stay far below the databases' parameter limits. */
const CHUNK = 400;

const TRIAL_SELECT = { id: true, name: true, status: true, step: true, totalUpdates: true, createdAt: true, startedAt: true, endedAt: true } as const;

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/** The objective a sweep row carries (its `metric` and `mode` columns; null on rows recorded before they were stored). */
function storedObjective(row: { metric: string | null; mode: string | null }): SweepObjective | null {
  const { metric, mode } = row;
  if (typeof metric !== 'string' || metric === '' || (mode !== 'min' && mode !== 'max')) return null;
  return { metric, mode };
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/** The sweep view queries (beside SweepQueries, on the same Prisma client). */
export class SweepViewQueries {
  constructor(private readonly prisma: TrackingPrismaClient) {}

  /** The `take` most recent sweeps, newest first, each with its trial runs. */
  async listSweeps(take = 200): Promise<SweepViewRecord[]> {
    const rows = await this.prisma.sweep.findMany({ orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take, include: { runs: { select: TRIAL_SELECT, orderBy: { createdAt: 'asc' } } } });
    return rows.map((row) => ({ id: row.id, name: row.name, algorithm: row.algorithm, status: row.status, createdAt: row.createdAt, searchSpace: parseJson(row.searchSpace), objective: storedObjective(row), trials: row.runs }));
  }

  /** One sweep with its trial runs, or null. */
  async getSweepView(sweepId: string): Promise<SweepViewRecord | null> {
    const row = await this.prisma.sweep.findUnique({ where: { id: sweepId }, include: { runs: { select: TRIAL_SELECT, orderBy: { createdAt: 'asc' } } } });
    if (!row) return null;
    return { id: row.id, name: row.name, algorithm: row.algorithm, status: row.status, createdAt: row.createdAt, searchSpace: parseJson(row.searchSpace), objective: storedObjective(row), trials: row.runs };
  }

  /** The sweep Events ({@link SWEEP_EVENT_KINDS}) of the given runs, oldest first. */
  async trialEvents(runIds: readonly string[]): Promise<SweepEventRecord[]> {
    const out: SweepEventRecord[] = [];
    for (const ids of chunks(runIds)) {
      const rows = await this.prisma.event.findMany({
        where: { runId: { in: ids }, kind: { in: [...SWEEP_EVENT_KINDS] } },
        orderBy: [{ time: 'asc' }, { id: 'asc' }],
        select: { runId: true, kind: true, time: true, detail: true },
      });
      for (const r of rows) if (r.runId !== null) out.push({ runId: r.runId, kind: r.kind, time: r.time, detail: parseJson(r.detail) });
    }
    return out.sort((a, b) => a.time.getTime() - b.time.getTime());
  }

  /** Each trial's best finite value of metric `key` by `mode` (its points up to its bound's step); trials without one are absent. */
  async bestMetricByRun(bounds: readonly TrialMetricBound[], key: string, mode: 'min' | 'max'): Promise<Map<string, number>> {
    const best = new Map<string, number>();
    const open = bounds.filter((b) => b.maxStep === null).map((b) => b.runId);
    const capped = bounds.filter((b): b is { runId: string; maxStep: number } => b.maxStep !== null);
    const conditions = [...chunks(open).map((ids) => ({ runId: { in: ids } })), ...capped.map((b) => ({ runId: b.runId, step: { lte: b.maxStep } }))];
    for (const or of chunks(conditions)) {
      const rows = await this.prisma.metric.groupBy({ by: ['runId'], where: { key, OR: or }, _min: { value: true }, _max: { value: true } });
      for (const r of rows) {
        const v = mode === 'min' ? r._min.value : r._max.value;
        if (v !== null && Number.isFinite(v)) best.set(r.runId, v);
      }
    }
    return best;
  }
}
