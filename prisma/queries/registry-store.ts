import createDebug from 'debug';
import { z } from 'zod';
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import type { Database, TrackingPrismaClient } from '../db.ts';
import { prismaCode } from './query-guards.ts';

const debug = createDebug('crowdtrain:db:registry');

/** A registered model name: letters, digits, `._-`, 1..128 characters. */
export const ModelNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit');
/** A version alias such as `champion`: letters, digits, `_-`, 1..64 characters, not all digits. */
export const AliasSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "_" or "-"')
  .refine((a) => !/^\d+$/.test(a), 'must not be all digits (that would read as a version number)');

/** One version of a registered model, with its lineage back to the run and checkpoint. */
export interface ModelVersionRecord {
  id: string;
  modelName: string;
  version: number;
  aliases: string[];
  description: string | null;
  createdAt: Date;
  sourceRunId: string | null;
  sourceRunName: string | null;
  sourceCheckpointId: string | null;
  sourceStep: number | null;
  sourceCheckpointPath: string | null;
}

/** A registered model with its versions, newest first. */
export interface RegisteredModelRecord {
  id: string;
  name: string;
  description: string | null;
  createdAt: Date;
  versions: ModelVersionRecord[];
}

/** Arguments of {@link RegistryStore.registerVersion}. */
export interface RegisterVersionInput {
  modelName: string;
  /** Created on first registration (MLflow's register_model semantics). */
  modelDescription?: string;
  sourceRunId: string;
  sourceCheckpointId: string;
  description?: string;
  aliases?: string[];
}

const versionInclude = {
  registeredModel: { select: { name: true } },
  sourceRun: { select: { name: true } },
  sourceCheckpoint: { select: { step: true, path: true } },
} as const;

interface VersionRow {
  id: string;
  version: number;
  aliases: string;
  description: string | null;
  createdAt: Date;
  sourceRunId: string | null;
  sourceCheckpointId: string | null;
  registeredModel: { name: string };
  sourceRun: { name: string } | null;
  sourceCheckpoint: { step: number; path: string } | null;
}

/**
 * The model registry: named models, numbered versions registered from a run's checkpoint, and
 * aliases (each alias points at exactly one version of a model).
 * @example
 * const registry = new RegistryStore(db);
 * const v = await registry.registerVersion({ modelName: 'mnist-cnn', sourceRunId, sourceCheckpointId, aliases: ['champion'] });
 */
export class RegistryStore {
  private readonly prisma: TrackingPrismaClient;

  constructor(db: Database) {
    this.prisma = db.prisma;
  }

  /** All registered models with their versions, by name. */
  async listModels(): Promise<RegisteredModelRecord[]> {
    const rows = await this.prisma.registeredModel.findMany({
      orderBy: { name: 'asc' },
      include: { versions: { include: versionInclude, orderBy: { version: 'desc' } } },
    });
    return rows.map((m) => ({ id: m.id, name: m.name, description: m.description, createdAt: m.createdAt, versions: m.versions.map(toVersionRecord) }));
  }

  /** A registered model with its versions, or null. */
  async getModel(name: string): Promise<RegisteredModelRecord | null> {
    const m = await this.prisma.registeredModel.findUnique({
      where: { name },
      include: { versions: { include: versionInclude, orderBy: { version: 'desc' } } },
    });
    return m === null ? null : { id: m.id, name: m.name, description: m.description, createdAt: m.createdAt, versions: m.versions.map(toVersionRecord) };
  }

  /** Creates a model; throws INVALID_MESSAGE naming the model when the name is taken or invalid. */
  async createModel(name: string, description?: string): Promise<RegisteredModelRecord> {
    parseName(name);
    try {
      const m = await this.prisma.registeredModel.create({ data: { name, description: description ?? null } });
      return { id: m.id, name: m.name, description: m.description, createdAt: m.createdAt, versions: [] };
    } catch (err) {
      if (prismaCode(err) === 'P2002') throw new CrowdtrainError('INVALID_MESSAGE', `a registered model named "${name}" already exists`, { cause: err });
      throw err;
    }
  }

  /**
   * Registers a run's checkpoint as the next version of a model (creating the model when new);
   * given aliases move to the new version. The checkpoint must belong to the run.
   */
  async registerVersion(input: RegisterVersionInput): Promise<ModelVersionRecord> {
    parseName(input.modelName);
    const aliases = parseAliases(input.aliases ?? []);
    const ckpt = await this.prisma.checkpoint.findUnique({ where: { id: input.sourceCheckpointId }, select: { runId: true, step: true } });
    if (ckpt === null || ckpt.runId !== input.sourceRunId) {
      throw new CrowdtrainError('RUN_NOT_FOUND', `run ${input.sourceRunId} has no checkpoint ${input.sourceCheckpointId}`);
    }
    // Version numbers come from max+1 inside one transaction; retry if a concurrent writer won the number.
    for (let attempt = 0; ; attempt++) {
      try {
        const created = await this.prisma.$transaction(async (tx) => {
          const model =
            (await tx.registeredModel.findUnique({ where: { name: input.modelName } })) ??
            (await tx.registeredModel.create({ data: { name: input.modelName, description: input.modelDescription ?? null } }));
          const top = await tx.modelVersion.aggregate({ where: { registeredModelId: model.id }, _max: { version: true } });
          const version = (top._max.version ?? 0) + 1;
          if (aliases.length > 0) await removeAliases(tx, model.id, aliases);
          return tx.modelVersion.create({
            data: {
              registeredModelId: model.id,
              version,
              sourceRunId: input.sourceRunId,
              sourceCheckpointId: input.sourceCheckpointId,
              aliases: JSON.stringify(aliases),
              description: input.description ?? null,
            },
            include: versionInclude,
          });
        });
        debug('registered %s v%d from run %s step %d', input.modelName, created.version, input.sourceRunId, ckpt.step);
        return toVersionRecord(created);
      } catch (err) {
        if (prismaCode(err) === 'P2002' && attempt < 3) continue;
        throw err;
      }
    }
  }

  /** A version by number or alias, or null. */
  async getVersion(modelName: string, versionOrAlias: number | string): Promise<ModelVersionRecord | null> {
    const model = await this.prisma.registeredModel.findUnique({ where: { name: modelName }, select: { id: true } });
    if (model === null) return null;
    if (typeof versionOrAlias === 'number') {
      const row = await this.prisma.modelVersion.findUnique({
        where: { registeredModelId_version: { registeredModelId: model.id, version: versionOrAlias } },
        include: versionInclude,
      });
      return row === null ? null : toVersionRecord(row);
    }
    const rows = await this.prisma.modelVersion.findMany({ where: { registeredModelId: model.id, aliases: { contains: `"${versionOrAlias}"` } }, include: versionInclude });
    const row = rows.find((r) => parseStoredAliases(r.aliases).includes(versionOrAlias));
    return row === undefined ? null : toVersionRecord(row);
  }

  /** Points `alias` at one version of a model (taking it from any other version); returns that version. */
  async setAlias(modelName: string, alias: string, version: number): Promise<ModelVersionRecord> {
    const [parsed] = parseAliases([alias]);
    const row = await this.prisma.$transaction(async (tx) => {
      const model = await tx.registeredModel.findUnique({ where: { name: modelName }, select: { id: true } });
      if (model === null) throw new CrowdtrainError('RUN_NOT_FOUND', `no registered model named "${modelName}"`);
      const target = await tx.modelVersion.findUnique({ where: { registeredModelId_version: { registeredModelId: model.id, version } } });
      if (target === null) throw new CrowdtrainError('RUN_NOT_FOUND', `model "${modelName}" has no version ${version}`);
      await removeAliases(tx, model.id, [parsed ?? alias]);
      const current = parseStoredAliases(target.aliases).filter((a) => a !== parsed);
      return tx.modelVersion.update({ where: { id: target.id }, data: { aliases: JSON.stringify([...current, parsed]) }, include: versionInclude });
    });
    return toVersionRecord(row);
  }
}

type Tx = Parameters<Parameters<TrackingPrismaClient['$transaction']>[0]>[0];

async function removeAliases(tx: Tx, registeredModelId: string, aliases: readonly string[]): Promise<void> {
  const holders = await tx.modelVersion.findMany({ where: { registeredModelId }, select: { id: true, aliases: true } });
  for (const h of holders) {
    const current = parseStoredAliases(h.aliases);
    const kept = current.filter((a) => !aliases.includes(a));
    if (kept.length !== current.length) await tx.modelVersion.update({ where: { id: h.id }, data: { aliases: JSON.stringify(kept) } });
  }
}

function toVersionRecord(r: VersionRow): ModelVersionRecord {
  return {
    id: r.id,
    modelName: r.registeredModel.name,
    version: r.version,
    aliases: parseStoredAliases(r.aliases),
    description: r.description,
    createdAt: r.createdAt,
    sourceRunId: r.sourceRunId,
    sourceRunName: r.sourceRun?.name ?? null,
    sourceCheckpointId: r.sourceCheckpointId,
    sourceStep: r.sourceCheckpoint?.step ?? null,
    sourceCheckpointPath: r.sourceCheckpoint?.path ?? null,
  };
}

function parseStoredAliases(text: string): string[] {
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? v.filter((a): a is string => typeof a === 'string') : [];
  } catch {
    return [];
  }
}

function parseName(name: string): string {
  const r = ModelNameSchema.safeParse(name);
  if (!r.success) throw new CrowdtrainError('INVALID_MESSAGE', `model name "${name}" ${r.error.issues[0]?.message ?? 'is invalid'}`);
  return r.data;
}

function parseAliases(aliases: readonly string[]): string[] {
  return [...new Set(aliases)].map((a) => {
    const r = AliasSchema.safeParse(a);
    if (!r.success) throw new CrowdtrainError('INVALID_MESSAGE', `alias "${a}" ${r.error.issues[0]?.message ?? 'is invalid'}`);
    return r.data;
  });
}
