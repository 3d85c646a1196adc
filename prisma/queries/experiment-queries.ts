/** Experiments with their tags: strict creation, lookup by id or name, listing (a part of TrackingStore). */
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import type { TrackingPrismaClient } from '../db.ts';
import { prismaCode, requireInt, requireText } from './query-guards.ts';
import { requireTag, type TagRecord } from './tag-queries.ts';

/** An experiment with its tags (sorted by key). */
export interface ExperimentRecord {
  id: string;
  name: string;
  description: string | null;
  createdAt: Date;
  tags: TagRecord[];
}

const withTags = { tags: { orderBy: { key: 'asc' }, select: { key: true, value: true } } } as const;

/** The experiment queries of {@link TrackingStore} beyond `ensureExperiment`. */
export class ExperimentQueries {
  constructor(private readonly prisma: TrackingPrismaClient) {}

  /**
   * Creates an experiment with its tags in one write; RUN_CONFLICT naming it when one with this
   * name exists (MLflow's RESOURCE_ALREADY_EXISTS), INVALID_MESSAGE for a bad tag.
   */
  async createExperiment(name: string, opts: { description?: string; tags?: readonly TagRecord[] } = {}): Promise<ExperimentRecord> {
    requireText('experiment name', name);
    const tags = new Map<string, string>();
    (opts.tags ?? []).forEach((t, i) => {
      requireTag(t, i);
      tags.set(t.key, t.value);
    });
    try {
      return await this.prisma.experiment.create({
        data: { name, description: opts.description ?? null, tags: { create: [...tags].map(([key, value]) => ({ key, value })) } },
        include: withTags,
      });
    } catch (err) {
      if (prismaCode(err) === 'P2002') throw new CrowdtrainError('RUN_CONFLICT', `an experiment named "${name}" already exists`, { cause: err });
      throw err;
    }
  }

  /** The experiment with this id, or null. */
  async getExperiment(id: string): Promise<ExperimentRecord | null> {
    return this.prisma.experiment.findUnique({ where: { id }, include: withTags });
  }

  /** The experiment with this name, or null. */
  async getExperimentByName(name: string): Promise<ExperimentRecord | null> {
    return this.prisma.experiment.findUnique({ where: { name }, include: withTags });
  }

  /** Experiments with their tags, oldest first, at most `take` (1..50000, default 50000). */
  async listExperiments(take = 50_000): Promise<ExperimentRecord[]> {
    requireInt('take', take, 1, 50_000);
    return this.prisma.experiment.findMany({ include: withTags, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], take });
  }
}
