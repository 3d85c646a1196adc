import type http from 'node:http';
import createDebug from 'debug';
import type { z } from 'zod';
import type { ApiError } from '../../core/api/api-error.ts';
import { CrowdtrainError, toWireError, type ErrorCode } from '../../core/protocol/errors.ts';
import { describeZodError } from '../../core/protocol/messages.ts';

const debug = createDebug('crowdtrain:http');

/** Largest request body the API reads (a batch of 10,000 metric points is about 1 MB). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Deepest nesting of arrays and objects a JSON body may have (a run config nests about 6 levels). */
export const MAX_JSON_DEPTH = 64;

/**
 * A CrowdtrainError with the HTTP status to answer with; the body is `{ error: { code, message } }`.
 * @example throw new HttpError(404, 'RUN_NOT_FOUND', `no run with id ${id}`);
 */
export class HttpError extends CrowdtrainError {
  constructor(
    readonly status: number,
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'HttpError';
  }
}

/** HTTP status of a CrowdtrainError thrown below the routes (a store or run-session error). */
export function statusForCode(code: ErrorCode): number {
  switch (code) {
    case 'RUN_NOT_FOUND':
      return 404;
    case 'NO_ACTIVE_RUN':
    case 'RUN_CONFLICT':
      return 409;
    case 'INVALID_CONFIG':
    case 'INVALID_MESSAGE':
    case 'NON_FINITE':
    case 'OVERSIZED':
    case 'SHAPE_MISMATCH':
    case 'CHECKPOINT_INVALID':
      return 400;
    case 'BAD_TOKEN':
      return 403;
    default:
      return 500;
  }
}

/** Writes `body` as JSON with `status` and `cache-control: no-store`. */
export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** Answers with the error body of `err` (HttpError: its status; CrowdtrainError: by code; else 500); destroys a response already started. */
export function sendError(res: http.ServerResponse, err: unknown): void {
  const status = err instanceof HttpError ? err.status : err instanceof CrowdtrainError ? statusForCode(err.code) : 500;
  if (status >= 500) debug('API error: %O', err);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { error: toWireError(err) } satisfies ApiError);
}

/** Parses `raw` with `schema`; throws 400 INVALID_MESSAGE `invalid <what>: <field>: <problem>` otherwise. */
export function parseWith<S extends z.ZodType>(schema: S, raw: unknown, what: string): z.output<S> {
  const r = schema.safeParse(raw);
  if (!r.success) throw new HttpError(400, 'INVALID_MESSAGE', `invalid ${what}: ${describeZodError(r.error)}`);
  return r.data;
}

/** The query string as a plain object (the last value wins for a repeated key). */
export function queryObject(url: URL): Record<string, string> {
  return Object.fromEntries(url.searchParams.entries());
}

/** Reads the request body as UTF-8; throws 413 OVERSIZED past {@link MAX_BODY_BYTES}. */
export async function readBody(req: http.IncomingMessage): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) throw new HttpError(413, 'OVERSIZED', `request body of ${declared} bytes exceeds the ${MAX_BODY_BYTES}-byte limit`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'OVERSIZED', `request body exceeds the ${MAX_BODY_BYTES}-byte limit`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * How deeply arrays and objects nest in a JSON text, scanning it once without parsing (strings
 * skipped); stops counting past `limit`. Malformed text is left for JSON.parse to report.
 */
export function jsonNestingDepth(text: string, limit = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++; // backslash: skip the escaped character
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x7b || ch === 0x5b) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (ch === 0x7d || ch === 0x5d) depth--;
  }
  return max;
}

/**
 * Parses a JSON text (an empty text is `{}`); throws 400 INVALID_MESSAGE with the parser's message
 * otherwise, and 400 naming {@link MAX_JSON_DEPTH} for a text nested deeper than that (checked
 * before parsing, so no deep value ever reaches a recursive walk).
 */
export function parseJsonText(text: string): unknown {
  if (text.trim() === '') return {};
  if (jsonNestingDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    throw new HttpError(400, 'INVALID_MESSAGE', `request body nests arrays/objects deeper than the limit of ${MAX_JSON_DEPTH} levels`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HttpError(400, 'INVALID_MESSAGE', `request body is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads the request body as JSON (an empty body is `{}`); 400 when it is not JSON, 413 when too large. */
export async function readJson(req: http.IncomingMessage): Promise<unknown> {
  return parseJsonText(await readBody(req));
}
