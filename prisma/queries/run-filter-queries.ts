/**
 * Runs searched by MLflow's filter language (core/api/mlflow-filter.ts), sorted by attributes,
 * metrics, params or tags and paged; and the latest value of each metric of a run (a part of
 * TrackingStore).
 *
 * A metric clause compares the metric's LATEST value (highest step, then latest time, then largest
 * value: MLflow's rule), never "any point in range". Clauses Prisma can express (=, != on params,
 * tags, names, ids; status; times) become one `where`; metric clauses run one SQL query each on the
 * Metric(runId, key, step) index; LIKE/ILIKE match in memory over the rows of that key (so they
 * behave the same on SQLite and PostgreSQL). Sorting happens over the matching ids, then only the
 * page's rows are read.
 */
import { compareString, type NumericComparator, type OrderByTerm, type RunFilterClause, type StringComparator } from '../../core/api/mlflow-filter.ts';
import type { TrackingPrismaClient } from '../db.ts';
import { Prisma } from '../generated/sqlite/client.ts';
import { invalid, requireInt } from './query-guards.ts';
import { RunStatusSchema, type RunStatus, type RunWithExperiment } from './run-queries.ts';

/** Which runs a search sees: active ones (not deleted), deleted ones, or both (MLflow's ViewType). */
export type RunViewType = 'active' | 'deleted' | 'all';

/** MLflow's name of each run status (`paused` has none: it shows as RUNNING). */
export const MLFLOW_STATUS_OF: Record<RunStatus, 'SCHEDULED' | 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED'> = {
  queued: 'SCHEDULED',
  running: 'RUNNING',
  paused: 'RUNNING',
  finished: 'FINISHED',
  failed: 'FAILED',
  stopped: 'KILLED',
};

/** Arguments of {@link TrackingStore.filterRuns}. */
export interface FilterRunsInput {
  /** The experiments to search (at least one). */
  experimentIds: readonly string[];
  /** AND-ed clauses (parseRunFilter's output); none: every run. */
  clauses?: readonly RunFilterClause[];
  view?: RunViewType;
  /** Sort terms (parseRunOrderBy's output); after them `start_time DESC, run_id ASC`. */
  orderBy?: readonly OrderByTerm[];
  skip?: number;
  /** Page size, 1..50000 (default 1000). */
  take?: number;
}

/** The latest point of one metric of one run. */
export interface LatestMetricRecord {
  runId: string;
  key: string;
  value: number;
  step: number;
  time: Date;
}

const SQL_COMPARATOR: Record<NumericComparator, string> = { '=': '=', '!=': '<>', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };

/** Largest id list sent in one `IN (...)` (well under SQLite's and PostgreSQL's bind-variable limits). */
const ID_CHUNK = 1000;

/** A sortable run row: the columns the attribute sorts need. */
interface SortRow {
  id: string;
  name: string;
  status: string;
  createdAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
}

/** MLflow's start time of a run: when it started, or when it was created if it has not started. */
export function runStartTime(run: { startedAt: Date | null; createdAt: Date }): Date {
  return run.startedAt ?? run.createdAt;
}

/** The run-filter queries of {@link TrackingStore}. */
export class RunFilterQueries {
  constructor(private readonly prisma: TrackingPrismaClient) {}

  /**
   * One page of the runs of the experiments that match every clause, sorted, and whether more
   * follow. Every clause's semantics are MLflow's: a param, tag or metric clause never matches a run
   * that lacks the key (`!=` included), a metric clause compares the latest value.
   */
  async filterRuns(input: FilterRunsInput): Promise<{ runs: RunWithExperiment[]; hasMore: boolean }> {
    const take = input.take ?? 1000;
    const skip = input.skip ?? 0;
    requireInt('take', take, 1, 50_000);
    requireInt('skip', skip, 0);
    if (input.experimentIds.length === 0) throw invalid('a run search needs at least one experiment id');
    const scope: Prisma.RunWhereInput = { experimentId: { in: [...input.experimentIds] }, ...viewWhere(input.view ?? 'active') };
    const where: Prisma.RunWhereInput[] = [scope];
    const idSets: Promise<Set<string>>[] = [];
    for (const clause of input.clauses ?? []) {
      const w = this.clauseWhere(clause);
      if (w) where.push(w);
      else idSets.push(this.clauseRunIds(clause, scope));
    }
    const [rows, ...sets] = await Promise.all([
      this.prisma.run.findMany({ where: { AND: where }, select: { id: true, name: true, status: true, createdAt: true, startedAt: true, endedAt: true } }),
      ...idSets,
    ]);
    const matching = rows.filter((r) => sets.every((s) => s.has(r.id)));
    const sorted = await this.sortRows(matching, input.orderBy ?? [], scope);
    const pageIds = sorted.slice(skip, skip + take).map((r) => r.id);
    const runs = await this.runsByIds(pageIds);
    return { runs, hasMore: sorted.length > skip + take };
  }

  /** The latest point (highest step, then time, then value) of each metric of each of the runs, keys sorted. */
  async latestMetricsByRun(runIds: readonly string[]): Promise<Map<string, LatestMetricRecord[]>> {
    const out = new Map<string, LatestMetricRecord[]>(runIds.map((id) => [id, []]));
    for (let i = 0; i < runIds.length; i += ID_CHUNK) {
      const chunk = runIds.slice(i, i + ID_CHUNK);
      const rows = await this.latestRows(Prisma.sql`m."runId" IN (${Prisma.join(chunk)})`);
      for (const r of rows) out.get(r.runId)?.push(r);
    }
    for (const list of out.values()) list.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return out;
  }

  /** The params of each of the runs, sorted by key (one query per 1000 runs, for a page of search results). */
  async paramsByRun(runIds: readonly string[]): Promise<Map<string, { key: string; value: string }[]>> {
    const out = new Map<string, { key: string; value: string }[]>(runIds.map((id) => [id, []]));
    for (let i = 0; i < runIds.length; i += ID_CHUNK) {
      const rows = await this.prisma.param.findMany({ where: { runId: { in: runIds.slice(i, i + ID_CHUNK) } }, orderBy: [{ runId: 'asc' }, { key: 'asc' }] });
      for (const r of rows) out.get(r.runId)?.push({ key: r.key, value: r.value });
    }
    return out;
  }

  /** The `where` of a clause Prisma can express, or null when it needs {@link clauseRunIds}. */
  private clauseWhere(clause: RunFilterClause): Prisma.RunWhereInput | null {
    switch (clause.entity) {
      case 'metric':
        return null;
      case 'param':
      case 'tag': {
        const value = keyValueWhere(clause.comparator, clause.value);
        if (value === null) return null;
        const some = { key: clause.key, value };
        return clause.entity === 'param' ? { params: { some } } : { tags: { some } };
      }
      case 'attribute':
        switch (clause.key) {
          case 'run_id':
            if (clause.comparator === 'IN') return { id: { in: clause.value } };
            if (clause.comparator === 'NOT IN') return { id: { notIn: clause.value } };
            return clause.comparator === '=' ? { id: clause.value } : clause.comparator === '!=' ? { id: { not: clause.value } } : null;
          case 'run_name':
            return clause.comparator === '=' ? { name: clause.value } : clause.comparator === '!=' ? { name: { not: clause.value } } : null;
          case 'status':
            return { status: { in: statusesMatching(clause.comparator, clause.value) } };
          case 'start_time':
            return startTimeWhere(clause.comparator, new Date(clause.value));
          case 'end_time':
            return { AND: [{ endedAt: { not: null } }, { endedAt: dateWhere(clause.comparator, new Date(clause.value)) }] };
          default: {
            const never: never = clause;
            throw new Error(`unknown attribute clause ${JSON.stringify(never)}`);
          }
        }
      default: {
        const never: never = clause;
        throw new Error(`unknown clause ${JSON.stringify(never)}`);
      }
    }
  }

  /** The ids of the runs in `scope` matching a clause that {@link clauseWhere} cannot express. */
  private async clauseRunIds(clause: RunFilterClause, scope: Prisma.RunWhereInput): Promise<Set<string>> {
    if (clause.entity === 'metric') {
      const rows = await this.latestRows(
        Prisma.sql`m."key" = ${clause.key} AND m."runId" IN (SELECT r."id" FROM "Run" r WHERE r."experimentId" IN (${Prisma.join(experimentIdsOf(scope))}))
          AND m."value" ${Prisma.raw(SQL_COMPARATOR[clause.comparator])} ${clause.value}`,
      );
      return new Set(rows.map((r) => r.runId));
    }
    if (clause.entity === 'param' || clause.entity === 'tag') {
      const where = { key: clause.key, run: scope };
      const rows =
        clause.entity === 'param'
          ? await this.prisma.param.findMany({ where, select: { runId: true, value: true } })
          : await this.prisma.runTag.findMany({ where, select: { runId: true, value: true } });
      return new Set(rows.filter((r) => compareString(r.value, clause.comparator, clause.value)).map((r) => r.runId));
    }
    if (clause.key === 'run_name' || clause.key === 'run_id') {
      const rows = await this.prisma.run.findMany({ where: scope, select: { id: true, name: true } });
      const field = clause.key === 'run_name' ? 'name' : 'id';
      return new Set(rows.filter((r) => compareString(r[field], clause.comparator as StringComparator, clause.value as string)).map((r) => r.id));
    }
    throw new Error(`clause on ${clause.key} has a where form`);
  }

  /**
   * The latest point of every (run, metric) pair selected by `condition` (over alias `m`). One
   * portable SQL query: a point is the latest when no point of the same run and key has a higher
   * step, or the same step and a later time, or the same step and time and a larger value (or id).
   */
  private async latestRows(condition: Prisma.Sql): Promise<LatestMetricRecord[]> {
    const rows = await this.prisma.$queryRaw<{ runId: string; key: string; value: number; step: number | bigint; time: Date | string | number }[]>(Prisma.sql`
      SELECT m."runId" AS "runId", m."key" AS "key", m."value" AS "value", m."step" AS "step", m."time" AS "time"
      FROM "Metric" m
      WHERE ${condition}
        AND NOT EXISTS (
          SELECT 1 FROM "Metric" n
          WHERE n."runId" = m."runId" AND n."key" = m."key"
            AND (n."step" > m."step"
              OR (n."step" = m."step" AND n."time" > m."time")
              OR (n."step" = m."step" AND n."time" = m."time" AND n."value" > m."value")
              OR (n."step" = m."step" AND n."time" = m."time" AND n."value" = m."value" AND n."id" > m."id")))`);
    return rows.map((r) => ({ runId: r.runId, key: r.key, value: Number(r.value), step: Number(r.step), time: r.time instanceof Date ? r.time : new Date(r.time) }));
  }

  /** Sorts rows by the terms, then start time (newest first) and id; a run lacking a sort key goes last either way. */
  private async sortRows(rows: SortRow[], terms: readonly OrderByTerm[], scope: Prisma.RunWhereInput): Promise<SortRow[]> {
    const keyed = await Promise.all(terms.map((t) => this.sortKeys(rows, t, scope)));
    const all = [...terms.map((t, i) => ({ ascending: t.ascending, keys: keyed[i] as Map<string, number | string> })), { ascending: false, keys: new Map(rows.map((r) => [r.id, runStartTime(r).getTime()])) }];
    return [...rows].sort((a, b) => {
      for (const { ascending, keys } of all) {
        const x = keys.get(a.id);
        const y = keys.get(b.id);
        if (x === y) continue;
        if (x === undefined) return 1;
        if (y === undefined) return -1;
        const c = x < y ? -1 : 1;
        return ascending ? c : -c;
      }
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
  }

  /** Each row's value of one sort term (absent: the run lacks it). */
  private async sortKeys(rows: SortRow[], term: OrderByTerm, scope: Prisma.RunWhereInput): Promise<Map<string, number | string>> {
    const ids = new Set(rows.map((r) => r.id));
    const out = new Map<string, number | string>();
    switch (term.entity) {
      case 'metric': {
        const latest = await this.latestRows(
          Prisma.sql`m."key" = ${term.key} AND m."runId" IN (SELECT r."id" FROM "Run" r WHERE r."experimentId" IN (${Prisma.join(experimentIdsOf(scope))}))`,
        );
        for (const m of latest) if (ids.has(m.runId)) out.set(m.runId, m.value);
        return out;
      }
      case 'param':
      case 'tag': {
        const where = { key: term.key, run: scope };
        const found =
          term.entity === 'param'
            ? await this.prisma.param.findMany({ where, select: { runId: true, value: true } })
            : await this.prisma.runTag.findMany({ where, select: { runId: true, value: true } });
        for (const r of found) if (ids.has(r.runId)) out.set(r.runId, r.value);
        return out;
      }
      case 'attribute':
        for (const r of rows) {
          const v = attributeSortValue(r, term.key);
          if (v !== undefined) out.set(r.id, v);
        }
        return out;
      default: {
        const never: never = term.entity;
        throw new Error(`unknown sort entity ${String(never)}`);
      }
    }
  }

  /** The runs with these ids, in this order (read in chunks). */
  private async runsByIds(ids: readonly string[]): Promise<RunWithExperiment[]> {
    const byId = new Map<string, RunWithExperiment>();
    for (let i = 0; i < ids.length; i += ID_CHUNK) {
      const rows = await this.prisma.run.findMany({ where: { id: { in: ids.slice(i, i + ID_CHUNK) } }, include: { experiment: true } });
      for (const r of rows) byId.set(r.id, r as RunWithExperiment);
    }
    return ids.map((id) => byId.get(id)).filter((r): r is RunWithExperiment => r !== undefined);
  }
}

function viewWhere(view: RunViewType): Prisma.RunWhereInput {
  if (view === 'active') return { deletedAt: null };
  if (view === 'deleted') return { deletedAt: { not: null } };
  return {};
}

function experimentIdsOf(scope: Prisma.RunWhereInput): string[] {
  const ids = (scope.experimentId as { in: string[] }).in;
  return ids;
}

/** The value filter of a param/tag `=` or `!=` (the key must exist either way); null for LIKE/ILIKE. */
function keyValueWhere(comparator: StringComparator, value: string): string | { not: string } | null {
  if (comparator === '=') return value;
  if (comparator === '!=') return { not: value };
  return null;
}

/**
 * The run statuses a status clause matches. A value names a status by MLflow's name (RUNNING,
 * FINISHED, KILLED, ...) or crowdtrain's (running, stopped, paused, ...), in any case, for = and
 * !=; LIKE and ILIKE match MLflow's names.
 */
export function statusesMatching(comparator: StringComparator, value: string): RunStatus[] {
  const all = RunStatusSchema.options;
  const named = (s: RunStatus) => MLFLOW_STATUS_OF[s] === value.toUpperCase() || s === value.toLowerCase();
  switch (comparator) {
    case '=':
      return all.filter(named);
    case '!=':
      return all.filter((s) => !named(s));
    case 'LIKE':
    case 'ILIKE':
      return all.filter((s) => compareString(MLFLOW_STATUS_OF[s], comparator, value));
    default: {
      const never: never = comparator;
      throw new Error(`unknown comparator ${String(never)}`);
    }
  }
}

function dateWhere(comparator: NumericComparator, at: Date): Prisma.DateTimeFilter {
  switch (comparator) {
    case '=':
      return { equals: at };
    case '!=':
      return { not: at };
    case '<':
      return { lt: at };
    case '<=':
      return { lte: at };
    case '>':
      return { gt: at };
    case '>=':
      return { gte: at };
    default: {
      const never: never = comparator;
      throw new Error(`unknown comparator ${String(never)}`);
    }
  }
}

/** start_time is startedAt, or createdAt for a run that has not started. */
function startTimeWhere(comparator: NumericComparator, at: Date): Prisma.RunWhereInput {
  return { OR: [{ AND: [{ startedAt: { not: null } }, { startedAt: dateWhere(comparator, at) }] }, { startedAt: null, createdAt: dateWhere(comparator, at) }] };
}

function attributeSortValue(r: SortRow, key: string): number | string | undefined {
  switch (key) {
    case 'start_time':
      return runStartTime(r).getTime();
    case 'end_time':
      return r.endedAt?.getTime();
    case 'run_name':
      return r.name;
    case 'status':
      return MLFLOW_STATUS_OF[r.status as RunStatus] ?? r.status;
    case 'run_id':
      return r.id;
    default:
      throw invalid(`"${key}" is not a sortable run attribute`);
  }
}
