import { FEATURE_IMPORTANCE_EVENT, FeatureImportanceDetailSchema, FeatureImportanceSchema } from '../../../core/api/feature-importance.ts';
import { describeZodError } from '../../../core/protocol/messages.ts';
import type { CoordinatorApi } from '../coordinator-api.ts';
import { HttpError } from '../http-io.ts';
import { jsonRoute, type Route } from '../route.ts';
import { requireRun } from './run-lookup.ts';

/** A run's permutation feature importance (runs on csv data sets, recorded when they finish). */
export function featureImportanceRoutes(c: CoordinatorApi): Route[] {
  return [
    jsonRoute({
      method: 'GET',
      pattern: /^\/api\/v1\/runs\/([^/]+)\/feature-importance$/,
      response: FeatureImportanceSchema,
      async handle({ params }) {
        const run = await requireRun(c.store, params[0]);
        const event = (await c.store.listEvents(run.id, { kind: FEATURE_IMPORTANCE_EVENT, order: 'desc', take: 1 }))[0];
        if (!event) {
          throw new HttpError(
            404,
            'RUN_NOT_FOUND',
            `run ${run.id} has no feature importance: it is computed when a run on a csv (tabular) data set finishes, and this run is not on a csv data set, has not finished yet, or was stopped or failed`,
          );
        }
        const detail = FeatureImportanceDetailSchema.safeParse(event.detail);
        if (!detail.success) throw new HttpError(500, 'INTERNAL', `feature importance (event ${event.id}) of run ${run.id} is malformed: ${describeZodError(detail.error)}`);
        return { status: 200, body: { runId: run.id, time: event.time.toISOString(), ...detail.data } };
      },
    }),
  ];
}
