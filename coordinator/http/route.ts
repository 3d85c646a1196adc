import type http from 'node:http';
import type { z } from 'zod';

/** The methods a route answers; HEAD is served by the GET route, `ANY` answers every method. */
export type RouteMethod = 'GET' | 'POST' | 'PUT' | 'ANY';

/** What a handler sees of one request: `params` are the URI-decoded capture groups of the route's pattern. */
export interface RouteContext {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  url: URL;
  params: string[];
}

/** A JSON answer: the router writes it with `cache-control: no-store`. */
export interface JsonReply<T> {
  status: 200 | 201;
  body: T;
}

/** One route: method, path pattern, whether it needs the admin token, and the schema of what it answers. */
export interface Route {
  method: RouteMethod;
  /** The whole path, anchored; capture groups become `ctx.params`. */
  pattern: RegExp;
  /** Needs `Authorization: Bearer <admin token>` (401 without, 403 with a wrong one). */
  admin: boolean;
  /** The core/api schema of the JSON body on success; null when the handler writes a binary body or an event stream itself. */
  response: z.ZodType | null;
  /** Serves the request: returns the JSON reply, or undefined once it has written the response itself. */
  handle(ctx: RouteContext): Promise<JsonReply<unknown> | undefined>;
}

interface RouteShape {
  method: RouteMethod;
  pattern: RegExp;
  admin?: boolean;
}

/**
 * A route that answers JSON typed by `response` (a core/api schema): the handler's body must be a `z.infer` of it.
 * @example jsonRoute({ method: 'GET', pattern: /^\/api\/v1\/fleet$/, response: LiveFleetSchema, handle: async () => ({ status: 200, body }) })
 */
export function jsonRoute<S extends z.ZodType>(def: RouteShape & { response: S; handle(ctx: RouteContext): Promise<JsonReply<z.infer<NoInfer<S>>>> }): Route {
  return { method: def.method, pattern: def.pattern, admin: def.admin ?? false, response: def.response, handle: (ctx) => def.handle(ctx) };
}

/** A route whose handler writes the response itself (a file download, an event stream). */
export function rawRoute(def: RouteShape & { handle(ctx: RouteContext): Promise<void> }): Route {
  return {
    method: def.method,
    pattern: def.pattern,
    admin: def.admin ?? false,
    response: null,
    handle: async (ctx) => {
      await def.handle(ctx);
      return undefined;
    },
  };
}
