/**
 * The experiment routes of the MLflow-compatible API (routes/mlflow.ts): create, get, get by name,
 * search (filter, order, pages; in memory, experiments are few) and set-experiment-tag.
 */
import { z } from 'zod';
import {
  CreateExperimentRequestSchema,
  CreateExperimentResponseSchema,
  EmptyResponseSchema,
  GetExperimentResponseSchema,
  SearchExperimentsRequestSchema,
  SearchExperimentsResponseSchema,
  SetExperimentTagRequestSchema,
  decodePageToken,
  encodePageToken,
  type MlflowExperiment,
} from '../../../core/api/mlflow.ts';
import { compareNumber, compareString, parseExperimentFilter, parseOrderBy } from '../../../core/api/mlflow-filter.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';
import type { ExperimentRecord, TrackingStore } from '../../../prisma/queries/tracking-store.ts';
import type { CoordinatorApi } from '../coordinator-api.ts';
import { queryObject, readJson } from '../http-io.ts';
import type { Route } from '../route.ts';
import { MAX_TAGS_PER_REQUEST, MlflowError, experimentView, mlflowRoute, parseRequest, queryFields, requireCount } from './mlflow-wire.ts';

/** The experiment id MLflow clients use when none is set: the experiment named {@link DEFAULT_EXPERIMENT_NAME}. */
export const DEFAULT_EXPERIMENT_ID = '0';
/** The experiment that {@link DEFAULT_EXPERIMENT_ID} names (created on first use). */
export const DEFAULT_EXPERIMENT_NAME = 'Default';

/** Finding the experiment a request names. */
export interface ExperimentLookups {
  /** The experiment id `raw` stands for ({@link DEFAULT_EXPERIMENT_ID}: the Default experiment, created on first use). */
  resolveExperimentId: (raw: string) => Promise<string>;
  /** The experiment `raw` names; RESOURCE_DOES_NOT_EXIST otherwise. */
  requireExperiment: (raw: string) => Promise<ExperimentRecord>;
}

/** The {@link ExperimentLookups} over `store`. */
export function experimentLookups(store: TrackingStore): ExperimentLookups {
  const resolveExperimentId = async (raw: string): Promise<string> => {
    if (raw === DEFAULT_EXPERIMENT_ID) return (await store.ensureExperiment(DEFAULT_EXPERIMENT_NAME)).id;
    return raw;
  };

  const requireExperiment = async (raw: string): Promise<ExperimentRecord> => {
    const e = await store.getExperiment(await resolveExperimentId(raw));
    if (!e) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${raw} exists`);
    return e;
  };

  return { resolveExperimentId, requireExperiment };
}

/** The experiment routes of the MLflow REST API. */
export function mlflowExperimentRoutes(c: CoordinatorApi, store: TrackingStore): Route[] {
  const { requireExperiment } = experimentLookups(store);

  return [
    mlflowRoute(c, {
      method: 'POST',
      path: 'experiments/create',
      write: true,
      response: CreateExperimentResponseSchema,
      async handle({ req }) {
        const body = parseRequest(CreateExperimentRequestSchema, await readJson(req), 'experiments/create');
        requireCount('tags', body.tags.length, MAX_TAGS_PER_REQUEST);
        try {
          const e = await store.createExperiment(body.name, { tags: body.tags });
          return { experiment_id: e.id };
        } catch (err) {
          if (err instanceof CrowdtrainError && err.code === 'RUN_CONFLICT') throw new MlflowError('RESOURCE_ALREADY_EXISTS', `Experiment '${body.name}' already exists.`);
          throw err;
        }
      },
    }),
    mlflowRoute(c, {
      method: 'GET',
      path: 'experiments/get',
      write: false,
      response: GetExperimentResponseSchema,
      async handle({ url }) {
        const q = parseRequest(z.object({ experiment_id: z.string({ message: 'experiment_id is required' }).min(1).max(64) }), queryObject(url), 'experiments/get');
        return { experiment: experimentView(await requireExperiment(q.experiment_id)) };
      },
    }),
    mlflowRoute(c, {
      method: 'GET',
      path: 'experiments/get-by-name',
      write: false,
      response: GetExperimentResponseSchema,
      async handle({ url }) {
        const q = parseRequest(z.object({ experiment_name: z.string({ message: 'experiment_name is required' }).min(1).max(250) }), queryObject(url), 'experiments/get-by-name');
        const e = await store.getExperimentByName(q.experiment_name);
        if (!e) throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `Could not find experiment with name '${q.experiment_name}'`);
        return { experiment: experimentView(e) };
      },
    }),
    ...(['POST', 'GET'] as const).map((method) =>
      mlflowRoute(c, {
        method,
        path: 'experiments/search',
        write: false,
        response: SearchExperimentsResponseSchema,
        async handle({ req, url }) {
          const raw = method === 'POST' ? await readJson(req) : queryFields(url, ['order_by']);
          const body = parseRequest(SearchExperimentsRequestSchema, raw, 'experiments/search');
          const clauses = parseExperimentFilter(body.filter ?? '');
          const order = body.order_by.map((t) => parseOrderBy(t, ['attribute']));
          for (const o of order) {
            if (!['name', 'experiment_id', 'creation_time', 'last_update_time'].includes(o.key)) {
              throw new MlflowError('INVALID_PARAMETER_VALUE', `invalid order_by "${o.key}": experiments sort by name, experiment_id, creation_time or last_update_time`);
            }
          }
          const offset = body.page_token === undefined ? 0 : decodePageToken(body.page_token);
          if (offset === null) throw new MlflowError('INVALID_PARAMETER_VALUE', `invalid page_token "${body.page_token}": pass the next_page_token of the previous page`);
          // Experiments are few: filter and sort them in memory. None is ever deleted here.
          const all = body.view_type === 'DELETED_ONLY' ? [] : (await store.listExperiments()).map(experimentView);
          const matching = all.filter((e) =>
            clauses.every((cl) => {
              if (cl.entity === 'tag') {
                const v = e.tags.find((t) => t.key === cl.key)?.value;
                return v !== undefined && compareString(v, cl.comparator, cl.value);
              }
              if (cl.key === 'name') return compareString(e.name, cl.comparator, cl.value);
              return compareNumber(cl.key === 'creation_time' ? e.creation_time : e.last_update_time, cl.comparator, cl.value);
            }),
          );
          const terms = [...order, ...(order.some((o) => o.key === 'creation_time') ? [] : [{ key: 'creation_time', ascending: false }]), { key: 'experiment_id', ascending: true }];
          matching.sort((a, b) => {
            for (const t of terms) {
              const x = a[t.key as keyof MlflowExperiment] as string | number;
              const y = b[t.key as keyof MlflowExperiment] as string | number;
              if (x !== y) return (x < y ? -1 : 1) * (t.ascending ? 1 : -1);
            }
            return 0;
          });
          const page = matching.slice(offset, offset + body.max_results);
          const more = matching.length > offset + body.max_results;
          return { experiments: page, ...(more ? { next_page_token: encodePageToken(offset + body.max_results) } : {}) };
        },
      }),
    ),
    mlflowRoute(c, {
      method: 'POST',
      path: 'experiments/set-experiment-tag',
      write: true,
      response: EmptyResponseSchema,
      async handle({ req }) {
        const body = parseRequest(SetExperimentTagRequestSchema, await readJson(req), 'experiments/set-experiment-tag');
        const e = await requireExperiment(body.experiment_id);
        await store.setExperimentTags(e.id, [{ key: body.key, value: body.value }]);
        return {};
      },
    }),
  ];
}
