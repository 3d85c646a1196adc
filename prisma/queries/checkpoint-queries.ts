/** Checkpoint rows: the latest/best flags, lookup by step or id, retention (a part of TrackingStore). */
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import type { TrackingPrismaClient } from '../db.ts';
import type { Checkpoint } from '../generated/sqlite/client.ts';
import { invalid, mapRunError, requireInt, requireText } from './query-guards.ts';

/** A checkpoint row with its size as a plain (JSON-safe) number. */
export type CheckpointRecord = Omit<Checkpoint, 'sizeBytes'> & { sizeBytes: number };

/** Arguments of {@link TrackingStore.addCheckpoint}. */
export interface AddCheckpointInput {
  runId: string;
  step: number;
  path: string;
  sha256: string;
  sizeBytes: number;
  isBest?: boolean;
  metricValue?: number;
}

/** The checkpoint queries of {@link TrackingStore}. */
export class CheckpointQueries {
  constructor(private readonly prisma: TrackingPrismaClient) {}

  /**
   * Records a checkpoint as the run's latest (exactly one latest per run); with `isBest` it
   * also becomes the run's only best. Atomic.
   */
  async addCheckpoint(input: AddCheckpointInput): Promise<CheckpointRecord> {
    requireInt('checkpoint step', input.step, 0);
    requireInt('checkpoint sizeBytes', input.sizeBytes, 0);
    requireText('checkpoint path', input.path);
    if (!/^[0-9a-f]{64}$/i.test(input.sha256)) throw invalid(`checkpoint sha256 "${input.sha256}" is not 64 hex digits`);
    if (input.metricValue !== undefined && !Number.isFinite(input.metricValue)) {
      throw new CrowdtrainError('NON_FINITE', `checkpoint metricValue ${input.metricValue} is not finite`);
    }
    const isBest = input.isBest === true;
    const { runId } = input;
    try {
      const ops = [
        this.prisma.checkpoint.updateMany({ where: { runId, isLatest: true }, data: { isLatest: false } }),
        ...(isBest ? [this.prisma.checkpoint.updateMany({ where: { runId, isBest: true }, data: { isBest: false } })] : []),
      ];
      const create = this.prisma.checkpoint.create({
        data: {
          runId,
          step: input.step,
          path: input.path,
          sha256: input.sha256.toLowerCase(),
          sizeBytes: BigInt(input.sizeBytes),
          isLatest: true,
          isBest,
          metricValue: input.metricValue ?? null,
        },
      });
      const results = await this.prisma.$transaction([...ops, create]);
      const created = results[results.length - 1] as Checkpoint;
      return toCheckpointRecord(created);
    } catch (err) {
      throw mapRunError(err, runId);
    }
  }

  /** The run's latest or best checkpoint, or the newest one at a given step; null when none. */
  async findCheckpoint(runId: string, which: 'latest' | 'best' | number): Promise<CheckpointRecord | null> {
    let where: { runId: string; isLatest?: boolean; isBest?: boolean; step?: number };
    if (which === 'latest') where = { runId, isLatest: true };
    else if (which === 'best') where = { runId, isBest: true };
    else {
      requireInt('checkpoint step', which, 0);
      where = { runId, step: which };
    }
    const row = await this.prisma.checkpoint.findFirst({ where, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
    return row === null ? null : toCheckpointRecord(row);
  }

  /** One checkpoint of a run by id, or null (also when it belongs to another run). */
  async getCheckpoint(runId: string, checkpointId: string): Promise<CheckpointRecord | null> {
    const row = await this.prisma.checkpoint.findFirst({ where: { id: checkpointId, runId } });
    return row === null ? null : toCheckpointRecord(row);
  }

  /**
   * Deletes checkpoint rows of a run by id (retention); ids of other runs and checkpoints a model
   * version was registered from are left alone. Returns the rows it deleted (their files are the
   * caller's to remove, after this). Atomic.
   */
  async deleteCheckpoints(runId: string, ids: readonly string[]): Promise<CheckpointRecord[]> {
    if (ids.length === 0) return [];
    const where = { runId, id: { in: [...ids] }, modelVersions: { none: {} } };
    const rows = await this.prisma.$transaction(async (tx) => {
      const found = await tx.checkpoint.findMany({ where });
      await tx.checkpoint.deleteMany({ where: { runId, id: { in: found.map((r) => r.id) } } });
      return found;
    });
    return rows.map(toCheckpointRecord);
  }

  /** All of a run's checkpoints in step order. */
  async listCheckpoints(runId: string): Promise<CheckpointRecord[]> {
    const rows = await this.prisma.checkpoint.findMany({ where: { runId }, orderBy: [{ step: 'asc' }, { createdAt: 'asc' }] });
    return rows.map(toCheckpointRecord);
  }
}

function toCheckpointRecord(row: Checkpoint): CheckpointRecord {
  return { ...row, sizeBytes: Number(row.sizeBytes) };
}
