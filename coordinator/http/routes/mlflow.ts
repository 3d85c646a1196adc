/**
 * The MLflow-compatible tracking API: the `/api/2.0/mlflow/...` subset MLflow's tracking client
 * uses (experiments, runs, logging, tags, search, metric history), written against MLflow's REST
 * API reference, so a script with `MLFLOW_TRACKING_URI=http://HOST:3000` and
 * `MLFLOW_TRACKING_TOKEN=<admin token>` logs here and its run shows in the dashboard beside fleet
 * runs (as an external run). Reads are public, writes need the admin token as a Bearer token.
 * Every error answers MLflow's body `{ error_code, message }` with MLflow's HTTP status; any other
 * MLflow path (artifacts, the model registry) answers ENDPOINT_NOT_FOUND saying so.
 */
import type { MlflowErrorBody } from '../../../core/api/mlflow.ts';
import { TrackingStore } from '../../../prisma/queries/tracking-store.ts';
import type { CoordinatorApi } from '../coordinator-api.ts';
import { sendJson } from '../http-io.ts';
import type { Route } from '../route.ts';
import { mlflowExperimentRoutes } from './mlflow-experiments.ts';
import { mlflowRunRoutes } from './mlflow-runs.ts';

export { DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME } from './mlflow-experiments.ts';
export { MAX_TAGS_PER_REQUEST, MlflowError, mlflowErrorOf } from './mlflow-wire.ts';

/**
 * The tracking routes of the MLflow REST API (experiments in mlflow-experiments.ts, runs and
 * metrics in mlflow-runs.ts), then the catch-all answering ENDPOINT_NOT_FOUND.
 */
export function mlflowRoutes(c: CoordinatorApi): Route[] {
  const store = new TrackingStore(c.database, { modes: Object.keys(c.modes) });
  const routes: Route[] = [...mlflowExperimentRoutes(c, store), ...mlflowRunRoutes(c, store)];

  // Anything else under the MLflow prefixes: ENDPOINT_NOT_FOUND naming what is served (or 405 for a known path).
  const served = routes.map((r) => ({ method: r.method, pattern: r.pattern }));
  const catchAll: Route = {
    method: 'ANY',
    pattern: /^\/api\/2\.0\/(?:preview\/)?mlflow(?:-artifacts)?\/.*$/,
    admin: false,
    response: null,
    handle({ res, url, req }) {
      const path = url.pathname;
      const allowed = served.filter((r) => r.pattern.test(path)).map((r) => r.method);
      if (allowed.length > 0) {
        res.setHeader('allow', allowed.join(', '));
        sendJson(res, 405, { error_code: 'BAD_REQUEST', message: `${req.method ?? '?'} is not allowed on ${path} (allowed: ${allowed.join(', ')})` } satisfies MlflowErrorBody);
      } else {
        const what = /artifacts/.test(path) ? 'artifacts are not supported yet' : /registered-models|model-versions/.test(path) ? 'the MLflow model registry routes are not supported yet (use /api/v1/models)' : 'this MLflow endpoint is not supported';
        sendJson(res, 404, { error_code: 'ENDPOINT_NOT_FOUND', message: `${path}: ${what}; see docs/api.md "MLflow-compatible API" for the supported subset` } satisfies MlflowErrorBody);
      }
      return Promise.resolve(undefined);
    },
  };
  return [...routes, catchAll];
}
