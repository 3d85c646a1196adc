/**
 * Runs tracked from outside (an MLflow script, an external trainer): creation with start time,
 * tags, params and parent in one transaction, updates of status, end time and name, and the soft
 * lifecycle (delete marks `Run.deletedAt`, restore clears it) (a part of TrackingStore).
 */
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import { EXTERNAL_RUN_MODE } from '../../core/run/modes.ts';
import type { TrackingPrismaClient } from '../db.ts';
import { invalid, prismaCode, requireText, runNotFound, toJson } from './query-guards.ts';
import type { RunRecord, RunStatus } from './run-queries.ts';
import { PARENT_RUN_TAG, RUN_NAME_TAG, requireTag, type TagRecord } from './tag-queries.ts';

const TERMINAL: ReadonlySet<RunStatus> = new Set(['finished', 'failed', 'stopped']);

/** Arguments of {@link TrackingStore.createExternalRun}. */
export interface CreateExternalRunInput {
  experimentId: string;
  name: string;
  /** Any JSON-serialisable value; stored as JSON text (`{ external: true, ... }` marks the run as external). */
  config: unknown;
  /** queued or running (default running: an MLflow run is running from its creation). */
  status?: 'queued' | 'running';
  /** When the run started (default now). */
  startedAt?: Date;
  parentRunId?: string;
  /** Also written: `mlflow.runName` (the name) and `mlflow.parentRunId` (when nested). */
  tags?: readonly TagRecord[];
  params?: readonly { key: string; value: string }[];
  description?: string;
}

/** Arguments of {@link TrackingStore.updateTrackedRun}: only the given fields change. */
export interface UpdateTrackedRunInput {
  status?: RunStatus;
  /** Defaults to now when the status becomes terminal; cleared when it becomes running. */
  endedAt?: Date;
  name?: string;
}

/** The tracked-run queries of {@link TrackingStore}. */
export class TrackedRunQueries {
  constructor(private readonly prisma: TrackingPrismaClient) {}

  /**
   * Creates an external run (mode `external`) with its tags, params and parent in one
   * transaction: nothing is written when any part is refused (RUN_NOT_FOUND for a missing
   * experiment or parent, INVALID_MESSAGE for a bad tag).
   */
  async createExternalRun(input: CreateExternalRunInput): Promise<RunRecord> {
    requireText('run name', input.name);
    const extra = (input.tags ?? []).filter((t) => t.key !== RUN_NAME_TAG && t.key !== PARENT_RUN_TAG);
    extra.forEach((t, i) => requireTag(t, i));
    const tags = new Map<string, string>([[RUN_NAME_TAG, input.name]]);
    for (const t of extra) tags.set(t.key, t.value);
    if (input.parentRunId !== undefined) tags.set(PARENT_RUN_TAG, input.parentRunId);
    const params = new Map<string, string>();
    for (const p of input.params ?? []) {
      requireText('param key', p.key);
      params.set(p.key, p.value);
    }
    const status = input.status ?? 'running';
    try {
      const run = await this.prisma.$transaction(async (tx) => {
        if (input.parentRunId !== undefined) {
          const parent = await tx.run.findUnique({ where: { id: input.parentRunId }, select: { id: true } });
          if (!parent) throw new CrowdtrainError('RUN_NOT_FOUND', `parent run ${input.parentRunId} of run "${input.name}" does not exist`);
        }
        return tx.run.create({
          data: {
            experimentId: input.experimentId,
            name: input.name,
            mode: EXTERNAL_RUN_MODE,
            config: toJson('run config', input.config),
            seed: 0,
            totalUpdates: 0,
            status,
            startedAt: status === 'running' ? (input.startedAt ?? new Date()) : null,
            description: input.description ?? null,
            parentRunId: input.parentRunId ?? null,
            tags: { create: [...tags].map(([key, value]) => ({ key, value })) },
            params: { create: [...params].map(([key, value]) => ({ key, value })) },
          },
        });
      });
      return run as RunRecord;
    } catch (err) {
      if (prismaCode(err) === 'P2003') throw new CrowdtrainError('RUN_NOT_FOUND', `cannot create run "${input.name}": experiment ${input.experimentId} does not exist`, { cause: err });
      throw err;
    }
  }

  /**
   * Changes a run's status, end time and/or name in one transaction (the name also rewrites the
   * `mlflow.runName` tag). `running` clears the end time and sets the start time the first time;
   * a terminal status sets the end time (now unless given).
   */
  async updateTrackedRun(runId: string, input: UpdateTrackedRunInput): Promise<RunRecord> {
    if (input.name !== undefined) requireText('run name', input.name);
    return this.prisma.$transaction(async (tx) => {
      const run = await tx.run.findUnique({ where: { id: runId }, select: { startedAt: true } });
      if (!run) throw runNotFound(runId);
      const data: { status?: RunStatus; startedAt?: Date; endedAt?: Date | null; name?: string } = {};
      if (input.status !== undefined) {
        data.status = input.status;
        if (input.status === 'running') {
          if (run.startedAt === null) data.startedAt = new Date();
          data.endedAt = null;
        } else if (TERMINAL.has(input.status)) {
          data.endedAt = input.endedAt ?? new Date();
        }
      }
      if (input.endedAt !== undefined && input.status !== 'running') data.endedAt = input.endedAt;
      if (input.name !== undefined) {
        data.name = input.name;
        await tx.runTag.upsert({ where: { runId_key: { runId, key: RUN_NAME_TAG } }, create: { runId, key: RUN_NAME_TAG, value: input.name }, update: { value: input.name } });
      }
      return (await tx.run.update({ where: { id: runId }, data })) as RunRecord;
    });
  }

  /** Marks a run deleted (soft: every row stays; {@link restoreRun} undoes it). Deleting a deleted run keeps its first time. */
  async markRunDeleted(runId: string): Promise<RunRecord> {
    return this.prisma.$transaction(async (tx) => {
      const run = await tx.run.findUnique({ where: { id: runId }, select: { deletedAt: true } });
      if (!run) throw runNotFound(runId);
      if (run.deletedAt !== null) return (await tx.run.findUniqueOrThrow({ where: { id: runId } })) as RunRecord;
      return (await tx.run.update({ where: { id: runId }, data: { deletedAt: new Date() } })) as RunRecord;
    });
  }

  /** Restores a deleted run; INVALID_MESSAGE when it is not deleted. */
  async restoreRun(runId: string): Promise<RunRecord> {
    return this.prisma.$transaction(async (tx) => {
      const run = await tx.run.findUnique({ where: { id: runId }, select: { deletedAt: true } });
      if (!run) throw runNotFound(runId);
      if (run.deletedAt === null) throw invalid(`run ${runId} is not deleted`);
      return (await tx.run.update({ where: { id: runId }, data: { deletedAt: null } })) as RunRecord;
    });
  }
}
