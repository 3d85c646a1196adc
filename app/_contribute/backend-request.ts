/** The backends a tab can be asked for (`?backend=` on the join link), `auto` first. */
export const BROWSER_BACKEND_REQUESTS = ['auto', 'webgpu', 'webgl', 'wasm', 'cpu'] as const;

/** A backend request: a backend name or `auto`. */
export type BrowserBackendRequest = (typeof BROWSER_BACKEND_REQUESTS)[number];

/** Parses `?backend=` (case-insensitive); unknown or missing values mean `auto`. */
export function parseBrowserBackendRequest(value: string | null): BrowserBackendRequest {
  const v = (value ?? '').trim().toLowerCase();
  return BROWSER_BACKEND_REQUESTS.find((r) => r === v) ?? 'auto';
}
