import type http from 'node:http';
import { checkAdminRequest } from './admin-auth.ts';
import type { CoordinatorApi } from './coordinator-api.ts';
import { HttpError, sendError, sendJson } from './http-io.ts';
import { checkHost, setSecurityHeaders } from './request-guard.ts';
import type { Route } from './route.ts';
import { checkpointRoutes } from './routes/checkpoints.ts';
import { datasetRoutes } from './routes/datasets.ts';
import { datasetUploadRoutes } from './routes/dataset-uploads.ts';
import { evaluationRoutes } from './routes/evaluation.ts';
import { featureImportanceRoutes } from './routes/feature-importance.ts';
import { fleetRoutes } from './routes/fleet.ts';
import { mlflowRoutes } from './routes/mlflow.ts';
import { registryRoutes } from './routes/registry.ts';
import { runRoutes } from './routes/runs.ts';
import { statusRoutes } from './routes/status.ts';
import { streamRoutes } from './routes/stream.ts';
import { sweepRoutes } from './routes/sweeps.ts';

/** Every route of the coordinator's HTTP API, resource by resource (order matters only among equal patterns). */
export function apiRoutes(c: CoordinatorApi): Route[] {
  return [...statusRoutes(c), ...runRoutes(c), ...checkpointRoutes(c), ...evaluationRoutes(c), ...featureImportanceRoutes(c), ...fleetRoutes(c), ...streamRoutes(c), ...registryRoutes(c), ...datasetUploadRoutes(c), ...datasetRoutes(c), ...sweepRoutes(c), ...mlflowRoutes(c)];
}

function decodeParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'INVALID_MESSAGE', `path segment "${raw}" is not valid percent-encoding`);
  }
}

function allowedMethods(routes: readonly Route[]): string {
  const methods = new Set<string>();
  for (const r of routes) {
    if (r.method === 'GET') methods.add('GET').add('HEAD');
    else methods.add(r.method);
  }
  return [...methods].join(', ');
}

/**
 * The coordinator's one HTTP router: `/healthz` and everything under `/api/v1/` (the REST API, the
 * run stream, the tab downloads). Reads are public; admin routes check the Bearer token first.
 * Every request that reaches it (the dashboard's too) first gets the security headers and has its
 * `Host` checked against the names the coordinator serves (421 with a JSON error otherwise: the
 * DNS-rebinding defence). Resolves false for any other path (the caller hands it to the dashboard).
 * @example const api = createHttpRouter(coordinator); if (!(await api(req, res))) await next.handle(req, res);
 */
export function createHttpRouter(c: CoordinatorApi): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean> {
  const routes = apiRoutes(c);
  let allowedHosts: readonly string[] | null = null;
  return async (req, res) => {
    setSecurityHeaders(res);
    allowedHosts ??= c.allowedHosts;
    const host = checkHost(req, allowedHosts);
    if (!host.ok) {
      sendError(res, new HttpError(host.status, 'INVALID_MESSAGE', host.message));
      return true;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const matching = routes.filter((r) => r.pattern.test(path));
    if (matching.length === 0) {
      if (!path.startsWith('/api/v1/')) return false;
      sendError(res, new HttpError(404, 'INVALID_MESSAGE', `no API route ${path}`));
      return true;
    }
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? '');
    const route = matching.find((r) => r.method === method || r.method === 'ANY');
    try {
      if (!route) {
        const allowed = allowedMethods(matching);
        res.setHeader('allow', allowed);
        throw new HttpError(405, 'INVALID_MESSAGE', `${req.method ?? '?'} is not allowed on ${path} (allowed: ${allowed})`);
      }
      if (route.admin) {
        const auth = checkAdminRequest(req, c.adminToken);
        if (!auth.ok) throw new HttpError(auth.status, 'BAD_TOKEN', auth.message);
      }
      const params = (route.pattern.exec(path) ?? []).slice(1).map(decodeParam);
      const reply = await route.handle({ req, res, url, params });
      if (reply) sendJson(res, reply.status, reply.body);
    } catch (err) {
      sendError(res, err);
    }
    return true;
  };
}
