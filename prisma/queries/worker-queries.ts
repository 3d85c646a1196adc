/** Workers and their per-run contributions: registration, liveness, counters, the fleet of a run (a part of TrackingStore). */
import type { z } from 'zod';
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import { WorkerKindSchema } from '../../core/protocol/messages.ts';
import type { TrackingPrismaClient } from '../db.ts';
import type { Contribution, Worker } from '../generated/sqlite/client.ts';
import { invalid, prismaCode, requireInt, requireText, toJson } from './query-guards.ts';

/** One of the worker kinds stored in `Worker.kind` (the protocol's one list, `WorkerKindSchema`). */
export type WorkerKind = z.infer<typeof WorkerKindSchema>;

/** A worker row with its kind narrowed. */
export type WorkerRecord = Omit<Worker, 'kind'> & { kind: WorkerKind };
/** A contribution row with byte and sample counters as plain (JSON-safe) numbers. */
export type ContributionRecord = Omit<Contribution, 'bytesIn' | 'bytesOut' | 'samples'> & {
  samples: number;
  bytesIn: number;
  bytesOut: number;
};
/** A run's contribution joined with its worker row (kind, backend, device, last seen). */
export type FleetEntryRecord = ContributionRecord & { worker: WorkerRecord };

/** Arguments of {@link TrackingStore.upsertWorker}. */
export interface UpsertWorkerInput {
  id: string;
  kind: WorkerKind;
  backend: string;
  /** Any JSON-serialisable description of the device (adapter, cores, memory...). */
  deviceInfo: unknown;
  userAgent?: string;
  name?: string;
}

/** What {@link TrackingStore.retireWorker} did: deleted the row, marked it as gone, or found none. */
export type WorkerRetirement = 'deleted' | 'left' | 'unknown';

/** Counter increments of {@link TrackingStore.addContribution}; all default to 0. */
export interface ContributionDelta {
  steps?: number;
  samples?: number;
  bytesIn?: number;
  bytesOut?: number;
  rejected?: number;
  rejectReason?: string;
}

/** The worker and contribution queries of {@link TrackingStore}. */
export class WorkerQueries {
  constructor(private readonly prisma: TrackingPrismaClient) {}

  /** Registers a worker or refreshes it on rejoin (clears leftAt, updates lastSeenAt). */
  async upsertWorker(input: UpsertWorkerInput): Promise<WorkerRecord> {
    requireText('worker id', input.id);
    const kind = WorkerKindSchema.safeParse(input.kind);
    if (!kind.success) throw invalid(`worker kind "${String(input.kind)}" is not one of ${WorkerKindSchema.options.join(', ')}`);
    const now = new Date();
    const fields = {
      kind: kind.data,
      backend: input.backend,
      deviceInfo: toJson('worker deviceInfo', input.deviceInfo ?? null),
      userAgent: input.userAgent ?? null,
      name: input.name ?? null,
      lastSeenAt: now,
    };
    const upsert = () =>
      this.prisma.worker.upsert({
        where: { id: input.id },
        create: { id: input.id, ...fields, joinedAt: now },
        update: { ...fields, leftAt: null },
      });
    try {
      return (await upsert()) as WorkerRecord;
    } catch (err) {
      if (prismaCode(err) !== 'P2002') throw err;
      return (await upsert()) as WorkerRecord;
    }
  }

  /** Marks a worker as gone; returns false when no such worker was registered. */
  async markWorkerLeft(id: string): Promise<boolean> {
    const now = new Date();
    const { count } = await this.prisma.worker.updateMany({ where: { id }, data: { leftAt: now, lastSeenAt: now } });
    return count > 0;
  }

  /**
   * A worker left: its row is deleted when it never contributed to a run (no Contribution row:
   * nothing lists it, and its Events keep the audit trail), else marked as gone (the runs'
   * contributor lists and history need it). A worker that said hello again since (a newer
   * lastSeenAt) keeps its row.
   */
  async retireWorker(id: string): Promise<WorkerRetirement> {
    const now = new Date();
    const { count } = await this.prisma.worker.deleteMany({ where: { id, lastSeenAt: { lt: now }, contributions: { none: {} } } });
    if (count > 0) return 'deleted';
    return (await this.markWorkerLeft(id)) ? 'left' : 'unknown';
  }

  /** Updates a worker's lastSeenAt; returns false when no such worker was registered. */
  async touchWorker(id: string): Promise<boolean> {
    const { count } = await this.prisma.worker.updateMany({ where: { id }, data: { lastSeenAt: new Date() } });
    return count > 0;
  }

  /** A worker by id, or null. */
  async getWorker(id: string): Promise<WorkerRecord | null> {
    return (await this.prisma.worker.findUnique({ where: { id } })) as WorkerRecord | null;
  }

  /**
   * Adds to a worker's counters on a run with atomic increments (creating the row on first
   * contribution); `rejectReason` replaces the last recorded reason.
   */
  async addContribution(runId: string, workerId: string, delta: ContributionDelta): Promise<void> {
    const steps = countOf('steps', delta.steps);
    const samples = countOf('samples', delta.samples);
    const bytesIn = countOf('bytesIn', delta.bytesIn);
    const bytesOut = countOf('bytesOut', delta.bytesOut);
    const rejected = countOf('rejected', delta.rejected);
    const reason = delta.rejectReason === undefined ? {} : { lastRejectReason: delta.rejectReason };
    const upsert = () =>
      this.prisma.contribution.upsert({
        where: { runId_workerId: { runId, workerId } },
        create: { runId, workerId, steps, samples: BigInt(samples), bytesIn: BigInt(bytesIn), bytesOut: BigInt(bytesOut), rejected, ...reason },
        update: {
          steps: { increment: steps },
          samples: { increment: BigInt(samples) },
          bytesIn: { increment: BigInt(bytesIn) },
          bytesOut: { increment: BigInt(bytesOut) },
          rejected: { increment: rejected },
          ...reason,
        },
      });
    try {
      await upsert();
    } catch (err) {
      if (prismaCode(err) === 'P2002') {
        await upsert(); // lost a create race: the row exists now, so this increments it
        return;
      }
      if (prismaCode(err) === 'P2003') {
        throw new CrowdtrainError('RUN_NOT_FOUND', `cannot record contribution: run ${runId} or worker ${workerId} does not exist`, { cause: err });
      }
      throw err;
    }
  }

  /**
   * Counts `rejected` rejected results on the worker's row of a run, only when it has one (it was
   * assigned the run): a worker that was never a member creates no row, however many results it
   * sends. `rejectReason`, when given, replaces the last recorded reason. Returns whether they were
   * counted.
   */
  async addRejection(runId: string, workerId: string, rejectReason?: string, rejected = 1): Promise<boolean> {
    const reason = rejectReason === undefined ? {} : { lastRejectReason: rejectReason };
    const { count } = await this.prisma.contribution.updateMany({
      where: { runId, workerId },
      data: { rejected: { increment: countOf('rejected', rejected) }, ...reason },
    });
    return count > 0;
  }

  /** The run's contributions, biggest sample count first. */
  async listContributions(runId: string): Promise<ContributionRecord[]> {
    const rows = await this.prisma.contribution.findMany({ where: { runId }, orderBy: [{ samples: 'desc' }, { workerId: 'asc' }] });
    return rows.map((r) => ({ ...r, samples: Number(r.samples), bytesIn: Number(r.bytesIn), bytesOut: Number(r.bytesOut) }));
  }

  /** How many workers contributed to each of the runs (runs without contributions are absent). */
  async countContributors(runIds: readonly string[]): Promise<Map<string, number>> {
    if (runIds.length === 0) return new Map();
    const groups = await this.prisma.contribution.groupBy({ by: ['runId'], where: { runId: { in: [...runIds] } }, _count: { _all: true } });
    return new Map(groups.map((g) => [g.runId, g._count._all]));
  }

  /** Every worker that contributed to a run, with its worker row; most samples first. */
  async listFleet(runId: string): Promise<FleetEntryRecord[]> {
    const rows = await this.prisma.contribution.findMany({
      where: { runId },
      include: { worker: true },
      orderBy: [{ samples: 'desc' }, { workerId: 'asc' }],
    });
    return rows.map((r) => ({
      ...r,
      samples: Number(r.samples),
      bytesIn: Number(r.bytesIn),
      bytesOut: Number(r.bytesOut),
      worker: r.worker as WorkerRecord,
    }));
  }
}

function countOf(what: string, value: number | undefined): number {
  if (value === undefined) return 0;
  requireInt(`contribution ${what}`, value, 0);
  return value;
}
