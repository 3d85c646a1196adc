import { z } from 'zod';
import { ModelBodySchema, ModelListSchema, TfjsModelJsonSchema, VersionBodySchema, type ModelVersion, type RegisteredModel } from '../../../core/api/registry.ts';
import { validateRunConfig } from '../../../core/config/run-config.ts';
import { AliasSchema, ModelNameSchema, RegistryStore, type ModelVersionRecord, type RegisteredModelRecord } from '../../../prisma/queries/registry-store.ts';
import { TfjsExportCache, exportTfjsModel, type ExportedTfjsModel } from '../../registry/export-tfjs-model.ts';
import type { CoordinatorApi } from '../coordinator-api.ts';
import { HttpError, parseWith, readJson } from '../http-io.ts';
import { jsonRoute, rawRoute, type Route, type RouteContext } from '../route.ts';
import { RUN_ID, findCheckpoint, requireRun } from './run-lookup.ts';

/** Body of `POST /api/v1/models`. */
export const CreateModelSchema = z.object({ name: ModelNameSchema, description: z.string().max(4000).optional() }).strict();

/** Body of `POST /api/v1/models/:name/versions`. */
export const RegisterVersionSchema = z
  .object({
    run_id: z.string().regex(RUN_ID, 'run_id must be a run id'),
    /** 'latest', 'best', a step number, or a checkpoint id. */
    checkpoint: z.union([z.enum(['latest', 'best']), z.number().int().nonnegative(), z.string().regex(RUN_ID)]).default('best'),
    description: z.string().max(4000).optional(),
    aliases: z.array(AliasSchema).max(16).default([]),
  })
  .strict();

/** Body of `PUT /api/v1/models/:name/aliases/:alias`. */
export const SetAliasSchema = z.object({ version: z.number().int().positive() }).strict();

/** A registry version as core/api sends it (no server-side checkpoint path). */
function versionView(v: ModelVersionRecord): ModelVersion {
  return {
    id: v.id,
    modelName: v.modelName,
    version: v.version,
    aliases: v.aliases,
    description: v.description,
    createdAt: v.createdAt.toISOString(),
    sourceRunId: v.sourceRunId,
    sourceRunName: v.sourceRunName,
    sourceCheckpointId: v.sourceCheckpointId,
    sourceStep: v.sourceStep,
  };
}

function modelView(m: RegisteredModelRecord): RegisteredModel {
  return { id: m.id, name: m.name, description: m.description, createdAt: m.createdAt.toISOString(), versions: m.versions.map(versionView) };
}

const modelNameParam = (raw: string | undefined): string => parseWith(ModelNameSchema, raw ?? '', 'model name');

/** Model registry: list, create, register checkpoints as versions, aliases, and the export of a version as a tfjs model. */
export function registryRoutes(c: CoordinatorApi): Route[] {
  const registry = new RegistryStore(c.database);
  const exports = new TfjsExportCache();

  const resolveVersion = async (params: readonly string[]): Promise<ModelVersionRecord> => {
    const name = modelNameParam(params[0]);
    const which = params[1] ?? '';
    const version = /^\d+$/.test(which) ? await registry.getVersion(name, Number(which)) : await registry.getVersion(name, parseWith(AliasSchema, which, 'alias'));
    if (!version) throw new HttpError(404, 'RUN_NOT_FOUND', `model "${name}" has no version or alias "${which}"`);
    return version;
  };

  const exportVersion = (version: ModelVersionRecord): Promise<ExportedTfjsModel> =>
    exports.get(version.id, async () => {
      const label = `${version.modelName} v${version.version}`;
      if (!version.sourceRunId || !version.sourceCheckpointId) throw new HttpError(410, 'CHECKPOINT_INVALID', `${label} lost its source run or checkpoint`);
      const run = await c.store.getRun(version.sourceRunId);
      const ck = await c.store.getCheckpoint(version.sourceRunId, version.sourceCheckpointId);
      if (!run || !ck) throw new HttpError(410, 'CHECKPOINT_INVALID', `${label}: run ${version.sourceRunId} or its checkpoint is gone`);
      return exportTfjsModel({ modelName: version.modelName, version: version.version, sourceRunId: run.id, config: validateRunConfig(JSON.parse(run.config) as unknown, c.modes), checkpoint: ck });
    });

  const MODEL = /^\/api\/v1\/models\/([^/]+)$/;
  const VERSION_FILE = (file: string) => new RegExp(`^/api/v1/models/([^/]+)/versions/([^/]+)/${file.replace('.', '\\.')}$`);
  return [
    jsonRoute({
      method: 'GET',
      pattern: /^\/api\/v1\/models$/,
      response: ModelListSchema,
      handle: async () => ({ status: 200, body: { models: (await registry.listModels()).map(modelView) } }),
    }),
    jsonRoute({
      method: 'POST',
      pattern: /^\/api\/v1\/models$/,
      admin: true,
      response: ModelBodySchema,
      async handle({ req }) {
        const body = parseWith(CreateModelSchema, await readJson(req), 'model');
        if (await registry.getModel(body.name)) throw new HttpError(409, 'INVALID_MESSAGE', `a registered model named "${body.name}" already exists`);
        return { status: 201, body: { model: modelView(await registry.createModel(body.name, body.description)) } };
      },
    }),
    jsonRoute({
      method: 'GET',
      pattern: MODEL,
      response: ModelBodySchema,
      async handle({ params }) {
        const name = modelNameParam(params[0]);
        const model = await registry.getModel(name);
        if (!model) throw new HttpError(404, 'RUN_NOT_FOUND', `no registered model named "${name}"`);
        return { status: 200, body: { model: modelView(model) } };
      },
    }),
    jsonRoute({
      method: 'POST',
      pattern: /^\/api\/v1\/models\/([^/]+)\/versions$/,
      admin: true,
      response: VersionBodySchema,
      async handle({ req, params }) {
        const name = modelNameParam(params[0]);
        const body = parseWith(RegisterVersionSchema, await readJson(req), 'model version');
        const run = await requireRun(c.store, body.run_id);
        const ck = await findCheckpoint(c.store, run.id, body.checkpoint);
        const version = await registry.registerVersion({ modelName: name, sourceRunId: run.id, sourceCheckpointId: ck.id, description: body.description, aliases: body.aliases });
        return { status: 201, body: { version: versionView(version) } };
      },
    }),
    jsonRoute({
      method: 'PUT',
      pattern: /^\/api\/v1\/models\/([^/]+)\/aliases\/([^/]+)$/,
      admin: true,
      response: VersionBodySchema,
      async handle({ req, params }) {
        const name = modelNameParam(params[0]);
        const alias = parseWith(AliasSchema, params[1] ?? '', 'alias');
        const body = parseWith(SetAliasSchema, await readJson(req), 'alias request');
        return { status: 200, body: { version: versionView(await registry.setAlias(name, alias, body.version)) } };
      },
    }),
    jsonRoute({
      method: 'GET',
      pattern: VERSION_FILE('model.json'),
      response: TfjsModelJsonSchema,
      handle: async ({ params }) => ({ status: 200, body: (await exportVersion(await resolveVersion(params))).modelJson }),
    }),
    rawRoute({
      method: 'GET',
      pattern: VERSION_FILE('weights.bin'),
      async handle({ req, res, params }: RouteContext) {
        const version = await resolveVersion(params);
        const { weights } = await exportVersion(version);
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': String(weights.length),
          'content-disposition': `attachment; filename="${version.modelName}-v${version.version}.weights.bin"`,
          'cache-control': 'no-store',
        });
        res.end(req.method === 'HEAD' ? undefined : weights);
      },
    }),
  ];
}
