import type { z } from 'zod';
import { ApiErrorSchema } from '../../core/api/api-error.ts';
import { describeZodError } from '../../core/protocol/messages.ts';

/** localStorage key under which the dashboard keeps the admin token the user pasted. */
export const ADMIN_TOKEN_STORAGE_KEY = 'crowdtrain-admin-token';

/** An API call that failed: HTTP status and the server's message. */
export class ApiCallError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiCallError';
  }
}

async function failure(res: Response): Promise<ApiCallError> {
  const text = await res.text();
  try {
    const parsed = ApiErrorSchema.safeParse(JSON.parse(text));
    if (parsed.success) return new ApiCallError(res.status, parsed.data.error.message);
  } catch {
    // not JSON
  }
  return new ApiCallError(res.status, `HTTP ${res.status}: ${text.slice(0, 200)}`);
}

/**
 * GETs `url` and validates the JSON body with `schema`; throws ApiCallError with the server's message.
 * @example const runs = await getJson('/api/v1/runs', RunListSchema);
 */
export async function getJson<S extends z.ZodType>(url: string, schema: S, signal?: AbortSignal): Promise<z.output<S>> {
  const res = await fetch(url, { signal, cache: 'no-store' });
  if (!res.ok) throw await failure(res);
  const parsed = schema.safeParse(await res.json());
  if (!parsed.success) throw new ApiCallError(res.status, `unexpected response from ${url}: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

/** Sends a write with the admin token from localStorage (a string or Blob body as is, other values as JSON); resolves with the JSON body or throws ApiCallError. */
export async function sendAdmin(method: 'POST' | 'PUT', url: string, body: unknown, contentType = 'application/json'): Promise<unknown> {
  const token = typeof window === 'undefined' ? null : window.localStorage.getItem(ADMIN_TOKEN_STORAGE_KEY);
  const headers: Record<string, string> = { 'content-type': contentType };
  if (token) headers.authorization = `Bearer ${token}`;
  // A string or a Blob (an uploaded File) is sent as is, anything else as JSON.
  const res = await fetch(url, { method, headers, body: typeof body === 'string' || (typeof Blob !== 'undefined' && body instanceof Blob) ? body : JSON.stringify(body ?? {}) });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as unknown;
}
