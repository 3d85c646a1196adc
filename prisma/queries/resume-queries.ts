/** The database side of a resume, as one transaction (a part of TrackingStore). */
import type { TrackingPrismaClient } from '../db.ts';
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import { requireInt, toJson } from './query-guards.ts';

/** The resume queries of {@link TrackingStore}. */
export class ResumeQueries {
  constructor(private readonly prisma: TrackingPrismaClient) {}

  /**
   * Records that run `runId` continues from its checkpoint at `fromStep`, in one transaction: the
   * metric points logged after that step are deleted (the lost timeline; they are trained again),
   * the `resumed` Event with `detail` is appended and the run is marked `running`. Either all of it
   * is recorded or none: a failure halfway leaves the run's records as they were. Returns how many
   * metric points were rewound.
   */
  async recordResume(runId: string, fromStep: number, detail: Record<string, unknown>): Promise<number> {
    requireInt('fromStep', fromStep, 0);
    const json = toJson('detail of event "resumed"', { fromStep, ...detail });
    const run = await this.prisma.run.findUnique({ where: { id: runId }, select: { id: true } });
    if (!run) throw new CrowdtrainError('RUN_NOT_FOUND', `no run with id ${runId}`);
    try {
      const [rewound] = await this.prisma.$transaction([
        this.prisma.metric.deleteMany({ where: { runId, step: { gt: fromStep } } }),
        this.prisma.event.create({ data: { runId, kind: 'resumed', detail: json }, select: { id: true } }),
        this.prisma.run.update({ where: { id: runId }, data: { status: 'running', endedAt: null, error: null } }),
      ]);
      return rewound.count;
    } catch (err) {
      throw new CrowdtrainError('INTERNAL', `could not record the resume of run ${runId}, nothing was changed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
}
