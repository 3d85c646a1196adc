/**
 * The wire side of the MLflow-compatible API (routes/mlflow.ts): MLflow's error body and status
 * for anything a handler throws, request parsing, the route wrapper (admin check on writes, errors
 * as MLflow bodies) and the views of experiments and runs in MLflow's JSON shapes.
 */
import createDebug from 'debug';
import type { z } from 'zod';
import { DATASET_CONTEXT_TAG, MLFLOW_ERROR_STATUS, type MlflowErrorBody, type MlflowErrorCode, type MlflowExperiment, type MlflowRun } from '../../../core/api/mlflow.ts';
import { MlflowFilterError } from '../../../core/api/mlflow-filter.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';
import { describeZodError } from '../../../core/protocol/messages.ts';
import { MLFLOW_STATUS_OF, runStartTime, type ExperimentRecord, type LatestMetricRecord, type RunInputRecord, type RunWithExperiment, type TagRecord } from '../../../prisma/queries/tracking-store.ts';
import { checkAdminRequest } from '../admin-auth.ts';
import type { CoordinatorApi } from '../coordinator-api.ts';
import { HttpError, queryObject, sendJson } from '../http-io.ts';
import type { Route, RouteContext } from '../route.ts';

const debug = createDebug('crowdtrain:http:mlflow');

/** Most tags one request may set (runs/create, experiments/create, log-batch). */
export const MAX_TAGS_PER_REQUEST = 1000;
/** The tag MLflow clients set to the user who started a run (`RunInfo.user_id`). */
export const USER_TAG = 'mlflow.user';

/** The path prefixes MLflow's clients use (the `preview` one by older clients). */
const PREFIX = String.raw`^/api/2\.0/(?:preview/)?mlflow`;

/**
 * An MLflow error: the code picks the HTTP status (MLFLOW_ERROR_STATUS).
 * @example throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `Run with id=${id} not found`);
 */
export class MlflowError extends Error {
  constructor(
    readonly code: MlflowErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MlflowError';
  }
}

/** The MLflow error body and HTTP status of anything a handler throws. */
export function mlflowErrorOf(err: unknown): { status: number; body: MlflowErrorBody } {
  if (err instanceof MlflowError) return { status: MLFLOW_ERROR_STATUS[err.code], body: { error_code: err.code, message: err.message } };
  if (err instanceof MlflowFilterError) return { status: 400, body: { error_code: 'INVALID_PARAMETER_VALUE', message: err.message } };
  if (err instanceof HttpError) {
    const code: MlflowErrorCode = err.status === 413 ? 'REQUEST_LIMIT_EXCEEDED' : err.status === 404 ? 'RESOURCE_DOES_NOT_EXIST' : err.status < 500 ? 'INVALID_PARAMETER_VALUE' : 'INTERNAL_ERROR';
    return { status: err.status, body: { error_code: code, message: err.message } };
  }
  if (err instanceof CrowdtrainError) {
    switch (err.code) {
      case 'RUN_NOT_FOUND':
        return { status: 404, body: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: err.message } };
      case 'RUN_CONFLICT':
        return { status: 400, body: { error_code: 'RESOURCE_ALREADY_EXISTS', message: err.message } };
      case 'INVALID_MESSAGE':
      case 'INVALID_CONFIG':
      case 'NON_FINITE':
      case 'OVERSIZED':
        return { status: 400, body: { error_code: 'INVALID_PARAMETER_VALUE', message: err.message } };
      default:
        break;
    }
  }
  debug('MLflow API error: %O', err);
  return { status: 500, body: { error_code: 'INTERNAL_ERROR', message: err instanceof Error ? err.message : String(err) } };
}

/** Parses `raw` with `schema`; INVALID_PARAMETER_VALUE naming the fields otherwise. */
export function parseRequest<S extends z.ZodType>(schema: S, raw: unknown, what: string): z.output<S> {
  const r = schema.safeParse(raw);
  if (!r.success) throw new MlflowError('INVALID_PARAMETER_VALUE', `invalid ${what} request: ${describeZodError(r.error)}`);
  return r.data;
}

/** The query string as an object; `arrays` name the fields that repeat (`?order_by=a&order_by=b`). */
export function queryFields(url: URL, arrays: readonly string[] = []): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = queryObject(url);
  for (const key of arrays) if (url.searchParams.has(key)) out[key] = url.searchParams.getAll(key);
  return out;
}

/** One MLflow route: its method and path, whether it writes, the schema of its answer and its handler. */
export interface MlflowRouteDef<S extends z.ZodType> {
  method: 'GET' | 'POST';
  /** The path after `/api/2.0/mlflow/`, e.g. `runs/create`. */
  path: string;
  /** Writes need the admin token. */
  write: boolean;
  response: S;
  handle(ctx: RouteContext): Promise<z.infer<S>>;
}

/** A route answering 200 with the handler's body, and every failure as MLflow's error body. */
export function mlflowRoute<S extends z.ZodType>(c: CoordinatorApi, def: MlflowRouteDef<S>): Route {
  return {
    method: def.method,
    pattern: new RegExp(`${PREFIX}/${def.path.replace(/[.-]/g, (ch) => `\\${ch}`)}$`),
    admin: false,
    response: def.response,
    async handle(ctx) {
      try {
        if (def.write) {
          const auth = checkAdminRequest(ctx.req, c.adminToken);
          if (!auth.ok) throw new MlflowError(auth.status === 401 ? 'UNAUTHENTICATED' : 'PERMISSION_DENIED', `${auth.message} (MLflow clients send it from MLFLOW_TRACKING_TOKEN)`);
        }
        return { status: 200, body: await def.handle(ctx) };
      } catch (err) {
        const { status, body } = mlflowErrorOf(err);
        if (ctx.res.headersSent) ctx.res.destroy();
        else sendJson(ctx.res, status, body);
        return undefined;
      }
    },
  };
}

/** A date as MLflow's milliseconds since the epoch. */
export const ms = (d: Date): number => d.getTime();

/** The value of tag `key`, if set. */
export function tagValue(tags: readonly TagRecord[], key: string): string | undefined {
  return tags.find((t) => t.key === key)?.value;
}

/** An experiment in MLflow's shape. */
export function experimentView(e: ExperimentRecord): MlflowExperiment {
  return {
    experiment_id: e.id,
    name: e.name,
    artifact_location: `mlflow-artifacts:/${e.id}`,
    lifecycle_stage: 'active',
    creation_time: ms(e.createdAt),
    last_update_time: ms(e.createdAt),
    tags: e.tags.map((t) => ({ key: t.key, value: t.value })),
  };
}

/** A run's `info` in MLflow's shape (`user_id` from the `mlflow.user` tag). */
export function runInfoView(run: RunWithExperiment, tags: readonly TagRecord[]): MlflowRun['info'] {
  return {
    run_id: run.id,
    run_uuid: run.id,
    run_name: run.name,
    experiment_id: run.experimentId,
    user_id: tagValue(tags, USER_TAG) ?? '',
    status: MLFLOW_STATUS_OF[run.status],
    start_time: ms(runStartTime(run)),
    ...(run.endedAt === null ? {} : { end_time: ms(run.endedAt) }),
    artifact_uri: `mlflow-artifacts:/${run.experimentId}/${run.id}/artifacts`,
    lifecycle_stage: run.deletedAt === null ? 'active' : 'deleted',
  };
}

/** A run input in MLflow's shape: the dataset, and its context as the `mlflow.data.context` tag. */
function datasetInputView(i: RunInputRecord): NonNullable<MlflowRun['inputs']['dataset_inputs']>[number] {
  const d = i.dataset;
  return {
    tags: [{ key: DATASET_CONTEXT_TAG, value: i.context }],
    dataset: { name: d.name, digest: d.digest, source_type: d.sourceType, source: d.source, ...(d.schema === null ? {} : { schema: d.schema }), ...(d.profile === null ? {} : { profile: d.profile }) },
  };
}

/** A run in MLflow's shape: info, latest metrics, params, tags and the datasets it used. */
export function runView(run: RunWithExperiment, tags: readonly TagRecord[], params: readonly TagRecord[], metrics: readonly LatestMetricRecord[], inputs: readonly RunInputRecord[] = []): MlflowRun {
  return {
    info: runInfoView(run, tags),
    data: {
      metrics: metrics.map((m) => ({ key: m.key, value: m.value, timestamp: ms(m.time), step: m.step })),
      params: params.map((p) => ({ key: p.key, value: p.value })),
      tags: tags.map((t) => ({ key: t.key, value: t.value })),
    },
    inputs: inputs.length === 0 ? {} : { dataset_inputs: inputs.map(datasetInputView) },
  };
}

/** Refuses more than `limit` items of one kind in a request, saying to split them. */
export function requireCount(what: string, count: number, limit: number): void {
  if (count > limit) throw new MlflowError('INVALID_PARAMETER_VALUE', `a request can carry at most ${limit} ${what}, got ${count}: split them across requests`);
}
