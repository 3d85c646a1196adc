/** What the worker reports about the device a backend runs on. */
export interface BackendDevice {
  adapter?: string;
  vendor?: string;
  architecture?: string;
  description?: string;
  tfjsNodeVersion?: string;
}

/** Outcome of trying to set up one backend: the device it runs on, or why it cannot be used. */
export type BackendAttempt =
  | { ok: true; device: BackendDevice }
  | { ok: false; reason: string; hint?: string };
