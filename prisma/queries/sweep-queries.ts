/** Sweeps: a row per sweep (the `Sweep` table) and its trials as runs linked by `Run.sweepId`. */
import type { TrackingPrismaClient } from '../db.ts';
import { toJson } from './query-guards.ts';

/** The statuses a sweep row goes through. */
export const SWEEP_STATUSES = ['queued', 'running', 'finished', 'failed', 'stopped'] as const;

/** A sweep's status. */
export type SweepStatus = (typeof SWEEP_STATUSES)[number];

/** A sweep row with its trial run ids (in creation order). */
export interface SweepRecord {
  id: string;
  name: string;
  searchSpace: unknown;
  algorithm: string;
  status: string;
  createdAt: Date;
  runIds: string[];
}

/** The sweep queries (a separate part beside TrackingStore, on the same Prisma client). */
export class SweepQueries {
  constructor(private readonly prisma: TrackingPrismaClient) {}

  /** Creates a sweep row; `algorithm` is `<searcher>+<scheduler>` (e.g. `tpe+asha`). */
  async createSweep(input: { name: string; searchSpace: unknown; algorithm: string; metric?: string; mode?: 'min' | 'max' }): Promise<{ id: string }> {
    return this.prisma.sweep.create({
      data: {
        name: input.name,
        searchSpace: toJson('sweep search space', input.searchSpace),
        algorithm: input.algorithm,
        metric: input.metric ?? null,
        mode: input.mode ?? null,
        status: 'running',
      },
      select: { id: true },
    });
  }

  /** Makes run `runId` a trial of sweep `sweepId`. */
  async linkTrialRun(sweepId: string, runId: string): Promise<void> {
    await this.prisma.run.update({ where: { id: runId }, data: { sweepId } });
  }

  /** Sets a sweep's status. */
  async setSweepStatus(sweepId: string, status: SweepStatus): Promise<void> {
    await this.prisma.sweep.update({ where: { id: sweepId }, data: { status } });
  }

  /** A sweep with its trial run ids, or null. */
  async getSweep(sweepId: string): Promise<SweepRecord | null> {
    const row = await this.prisma.sweep.findUnique({ where: { id: sweepId }, include: { runs: { select: { id: true }, orderBy: { createdAt: 'asc' } } } });
    if (!row) return null;
    return { id: row.id, name: row.name, searchSpace: JSON.parse(row.searchSpace) as unknown, algorithm: row.algorithm, status: row.status, createdAt: row.createdAt, runIds: row.runs.map((r) => r.id) };
  }
}
