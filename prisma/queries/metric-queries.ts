/** Metric points: batched logging, curves, per-run extremes and summaries, rewind on resume (a part of TrackingStore). */
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import type { TrackingPrismaClient } from '../db.ts';
import { invalid, mapRunError, requireInt, requireText } from './query-guards.ts';

/** One point of a metric curve. */
export interface MetricPointRecord {
  step: number;
  value: number;
  time: Date;
}

/** One metric value to log. */
export interface MetricPointInput {
  key: string;
  step: number;
  value: number;
  time?: Date;
}

/** Count, last value and extremes of one metric of one run. */
export interface MetricSummaryRecord {
  runId: string;
  key: string;
  count: number;
  lastStep: number;
  last: number;
  min: number;
  max: number;
}

/** The metric queries of {@link TrackingStore}. */
export class MetricQueries {
  constructor(private readonly prisma: TrackingPrismaClient) {}

  /**
   * Writes metric points in one batched, atomic insert. Every point is validated first: a
   * non-finite value (NaN, Infinity) throws NON_FINITE and nothing is written.
   */
  async logMetrics(runId: string, points: readonly MetricPointInput[]): Promise<void> {
    if (points.length === 0) return;
    const now = new Date();
    const data = points.map((p, i) => {
      requireText(`metric key (point ${i})`, p.key);
      if (typeof p.value !== 'number' || !Number.isFinite(p.value)) {
        throw new CrowdtrainError(
          'NON_FINITE',
          `metric "${p.key}" at step ${p.step} has value ${String(p.value)}; metric values must be finite numbers (point ${i} of ${points.length}, nothing written)`,
        );
      }
      requireInt(`step of metric "${p.key}"`, p.step, 0);
      return { runId, key: p.key, step: p.step, value: p.value, time: p.time ?? now };
    });
    try {
      await this.prisma.$transaction([this.prisma.metric.createMany({ data })]);
    } catch (err) {
      throw mapRunError(err, runId);
    }
  }

  /** A metric's points in step order. */
  async getMetricHistory(runId: string, key: string): Promise<MetricPointRecord[]> {
    return this.prisma.metric.findMany({
      where: { runId, key },
      orderBy: [{ step: 'asc' }, { id: 'asc' }],
      select: { step: true, value: true, time: true },
    });
  }

  /** A metric's points with step > `afterStep`, in step order, at most `limit` (1..100000) of them. */
  async getMetricHistoryAfter(runId: string, key: string, afterStep: number, limit = 10_000): Promise<MetricPointRecord[]> {
    requireInt('limit', limit, 1, 100_000);
    if (!Number.isSafeInteger(afterStep) || afterStep < -1) throw invalid(`afterStep must be an integer >= -1, got ${String(afterStep)}`);
    return this.prisma.metric.findMany({
      where: { runId, key, step: { gt: afterStep } },
      orderBy: [{ step: 'asc' }, { id: 'asc' }],
      select: { step: true, value: true, time: true },
      take: limit,
    });
  }

  /** The largest value of metric `key` per run, for the given runs (runs without it are absent). */
  async maxMetricByRun(runIds: readonly string[], key: string): Promise<Map<string, number>> {
    if (runIds.length === 0) return new Map();
    const rows = await this.prisma.metric.groupBy({ by: ['runId'], where: { runId: { in: [...runIds] }, key }, _max: { value: true } });
    const out = new Map<string, number>();
    for (const r of rows) if (r._max.value !== null) out.set(r.runId, r._max.value);
    return out;
  }

  /** The distinct metric keys a run has logged, sorted. */
  async listMetricKeys(runId: string): Promise<string[]> {
    const rows = await this.prisma.metric.findMany({ where: { runId }, distinct: ['key'], select: { key: true }, orderBy: { key: 'asc' } });
    return rows.map((r) => r.key);
  }

  /** Deletes metric points logged after `step` (a resume from a checkpoint at `step` rewrites them); returns how many. */
  async rewindMetrics(runId: string, step: number): Promise<number> {
    requireInt('step', step, 0);
    const { count } = await this.prisma.metric.deleteMany({ where: { runId, step: { gt: step } } });
    return count;
  }

  /**
   * For each of the runs, each logged metric (or only `keys`): point count, last step and value,
   * min and max. Two grouped queries, whatever the number of runs.
   */
  async summarizeRunMetrics(runIds: readonly string[], keys?: readonly string[]): Promise<MetricSummaryRecord[]> {
    if (runIds.length === 0) return [];
    const where = { runId: { in: [...runIds] }, ...(keys === undefined ? {} : { key: { in: [...keys] } }) };
    const groups = await this.prisma.metric.groupBy({
      by: ['runId', 'key'],
      where,
      _count: { _all: true },
      _min: { value: true },
      _max: { value: true, step: true },
    });
    if (groups.length === 0) return [];
    const lastRows = await this.prisma.metric.findMany({
      where: { OR: groups.map((g) => ({ runId: g.runId, key: g.key, step: g._max.step ?? 0 })) },
      orderBy: { id: 'asc' },
      select: { runId: true, key: true, value: true },
    });
    const last = new Map(lastRows.map((r) => [`${r.runId}\u0000${r.key}`, r.value]));
    return groups.map((g) => ({
      runId: g.runId,
      key: g.key,
      count: g._count._all,
      lastStep: g._max.step ?? 0,
      last: last.get(`${g.runId}\u0000${g.key}`) ?? Number.NaN,
      min: g._min.value ?? Number.NaN,
      max: g._max.value ?? Number.NaN,
    }));
  }
}
