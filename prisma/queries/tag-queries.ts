/**
 * Key/value tags on runs and experiments, and run nesting (a part of TrackingStore). Two tags
 * mirror a column, as in MLflow, and every write here keeps the pair in step: `mlflow.parentRunId`
 * is `Run.parentRunId` (the run tree) and `mlflow.runName` is `Run.name`.
 */
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import type { TrackingPrismaClient } from '../db.ts';
import { invalid, mapRunError, prismaCode, requireText, runNotFound } from './query-guards.ts';

/** The tag MLflow sets on a nested run: the id of its parent run. */
export const PARENT_RUN_TAG = 'mlflow.parentRunId';
/** The tag MLflow keeps equal to the run's name. */
export const RUN_NAME_TAG = 'mlflow.runName';
/** Longest tag key (MLflow guarantees 250 bytes). */
export const MAX_TAG_KEY_LENGTH = 250;
/** Longest tag value (MLflow's current limit). */
export const MAX_TAG_VALUE_LENGTH = 8000;
/** Deepest chain of parents a run may have (a cycle check walks it). */
export const MAX_NESTING_DEPTH = 64;

/** One tag. */
export interface TagRecord {
  key: string;
  value: string;
}

type Tx = Parameters<Parameters<TrackingPrismaClient['$transaction']>[0]>[0];

/** Throws INVALID_MESSAGE unless the tag's key and value are strings within the limits. */
export function requireTag(tag: TagRecord, index?: number): void {
  const where = index === undefined ? '' : ` (tag ${index})`;
  requireText(`tag key${where}`, tag.key);
  if (tag.key.length > MAX_TAG_KEY_LENGTH) throw invalid(`tag key "${tag.key.slice(0, 40)}..."${where} is ${tag.key.length} characters, over the limit of ${MAX_TAG_KEY_LENGTH}`);
  if (typeof tag.value !== 'string') throw invalid(`tag "${tag.key}"${where} must have a string value, got ${typeof tag.value}`);
  if (tag.value.length > MAX_TAG_VALUE_LENGTH) throw invalid(`tag "${tag.key}"${where} has a value of ${tag.value.length} characters, over the limit of ${MAX_TAG_VALUE_LENGTH}`);
}

/** The last value given for each key, in first-seen key order (MLflow: the last-provided tag value is written). */
function lastValuePerKey(tags: readonly TagRecord[]): TagRecord[] {
  const byKey = new Map<string, string>();
  for (const t of tags) byKey.set(t.key, t.value);
  return [...byKey].map(([key, value]) => ({ key, value }));
}

/** The tag and nesting queries of {@link TrackingStore}. */
export class TagQueries {
  constructor(private readonly prisma: TrackingPrismaClient) {}

  /**
   * Sets tags on a run in one transaction (an existing key is overwritten; of repeated keys the last
   * wins). `mlflow.parentRunId` also sets the run's parent (RUN_NOT_FOUND when that run does not
   * exist, INVALID_MESSAGE for a cycle) and `mlflow.runName` renames the run.
   */
  async setRunTags(runId: string, tags: readonly TagRecord[]): Promise<void> {
    tags.forEach((t, i) => requireTag(t, i));
    const unique = lastValuePerKey(tags);
    if (unique.length === 0) return;
    try {
      await this.prisma.$transaction(async (tx) => {
        await requireRunRow(tx, runId);
        for (const t of unique) {
          if (t.key === PARENT_RUN_TAG) await linkParent(tx, runId, t.value);
          if (t.key === RUN_NAME_TAG) {
            requireText('run name', t.value);
            await tx.run.update({ where: { id: runId }, data: { name: t.value } });
          }
        }
        for (const t of unique) {
          await tx.runTag.upsert({ where: { runId_key: { runId, key: t.key } }, create: { runId, key: t.key, value: t.value }, update: { value: t.value } });
        }
      });
    } catch (err) {
      throw mapRunError(err, runId);
    }
  }

  /** Deletes one tag of a run; false when the run has no such tag. Deleting `mlflow.parentRunId` un-nests the run. */
  async deleteRunTag(runId: string, key: string): Promise<boolean> {
    requireText('tag key', key);
    return this.prisma.$transaction(async (tx) => {
      await requireRunRow(tx, runId);
      const { count } = await tx.runTag.deleteMany({ where: { runId, key } });
      if (key === PARENT_RUN_TAG) await tx.run.update({ where: { id: runId }, data: { parentRunId: null } });
      return count > 0;
    });
  }

  /** A run's tags, sorted by key. */
  async getRunTags(runId: string): Promise<TagRecord[]> {
    return this.prisma.runTag.findMany({ where: { runId }, orderBy: { key: 'asc' }, select: { key: true, value: true } });
  }

  /** The tags of each of the runs, sorted by key (runs without tags map to an empty list). */
  async getRunTagsByRun(runIds: readonly string[]): Promise<Map<string, TagRecord[]>> {
    const out = new Map<string, TagRecord[]>(runIds.map((id) => [id, []]));
    if (runIds.length === 0) return out;
    const rows = await this.prisma.runTag.findMany({ where: { runId: { in: [...runIds] } }, orderBy: [{ runId: 'asc' }, { key: 'asc' }] });
    for (const r of rows) out.get(r.runId)?.push({ key: r.key, value: r.value });
    return out;
  }

  /**
   * Nests a run under `parentRunId` (null: un-nests it), keeping the `mlflow.parentRunId` tag equal.
   * RUN_NOT_FOUND when either run is missing; INVALID_MESSAGE when the link would make a cycle.
   */
  async setRunParent(runId: string, parentRunId: string | null): Promise<void> {
    await this.prisma.$transaction(async (tx) => {
      await requireRunRow(tx, runId);
      if (parentRunId === null) {
        await tx.run.update({ where: { id: runId }, data: { parentRunId: null } });
        await tx.runTag.deleteMany({ where: { runId, key: PARENT_RUN_TAG } });
        return;
      }
      await linkParent(tx, runId, parentRunId);
      await tx.runTag.upsert({
        where: { runId_key: { runId, key: PARENT_RUN_TAG } },
        create: { runId, key: PARENT_RUN_TAG, value: parentRunId },
        update: { value: parentRunId },
      });
    });
  }

  /** The ids of the runs nested directly under a run, oldest first. */
  async listChildRunIds(runId: string): Promise<string[]> {
    const rows = await this.prisma.run.findMany({ where: { parentRunId: runId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], select: { id: true } });
    return rows.map((r) => r.id);
  }

  /** Sets tags on an experiment in one transaction (overwriting existing keys; of repeated keys the last wins). */
  async setExperimentTags(experimentId: string, tags: readonly TagRecord[]): Promise<void> {
    tags.forEach((t, i) => requireTag(t, i));
    const unique = lastValuePerKey(tags);
    if (unique.length === 0) return;
    try {
      await this.prisma.$transaction(
        unique.map((t) =>
          this.prisma.experimentTag.upsert({
            where: { experimentId_key: { experimentId, key: t.key } },
            create: { experimentId, key: t.key, value: t.value },
            update: { value: t.value },
          }),
        ),
      );
    } catch (err) {
      const code = prismaCode(err);
      if (code === 'P2003' || code === 'P2025') throw new CrowdtrainError('RUN_NOT_FOUND', `no experiment with id ${experimentId}`, { cause: err });
      throw err;
    }
  }
}

async function requireRunRow(tx: Tx, runId: string): Promise<void> {
  const run = await tx.run.findUnique({ where: { id: runId }, select: { id: true } });
  if (!run) throw runNotFound(runId);
}

/** Sets `runId`'s parent column after checking the parent exists and is not the run or one of its descendants. */
async function linkParent(tx: Tx, runId: string, parentRunId: string): Promise<void> {
  requireText('parent run id', parentRunId);
  let cursor: string | null = parentRunId;
  for (let depth = 0; cursor !== null; depth++) {
    if (cursor === runId) throw invalid(`run ${runId} cannot be nested under ${parentRunId}: that run is ${depth === 0 ? 'the run itself' : 'nested under it'} (a cycle)`);
    if (depth >= MAX_NESTING_DEPTH) throw invalid(`run ${parentRunId} is nested more than ${MAX_NESTING_DEPTH} levels deep`);
    const row: { parentRunId: string | null } | null = await tx.run.findUnique({ where: { id: cursor }, select: { parentRunId: true } });
    if (!row) throw new CrowdtrainError('RUN_NOT_FOUND', `parent run ${parentRunId} of run ${runId} does not exist`);
    cursor = row.parentRunId;
  }
  await tx.run.update({ where: { id: runId }, data: { parentRunId } });
}
