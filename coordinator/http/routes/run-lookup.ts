import type { CheckpointRecord, RunWithExperiment } from '../../../prisma/queries/tracking-store.ts';
import type { ApiTrackingStore } from '../coordinator-api.ts';
import { HttpError } from '../http-io.ts';

/** A run id (and a checkpoint id) in a path or body: 1-64 letters, digits, `_` or `-`. */
export const RUN_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** A metric key: 1-128 letters, digits or `_ . / -`. */
export const METRIC_KEY = /^[A-Za-z0-9_./-]{1,128}$/;

/** Checks a run id from the path; throws 400 INVALID_MESSAGE naming it otherwise. */
export function runIdParam(raw: string | undefined): string {
  const id = raw ?? '';
  if (!RUN_ID.test(id)) throw new HttpError(400, 'INVALID_MESSAGE', `"${id}" is not a run id`);
  return id;
}

/** The run `raw` names; throws 400 for a malformed id, 404 RUN_NOT_FOUND naming it when there is none. */
export async function requireRun(store: Pick<ApiTrackingStore, 'getRun'>, raw: string | undefined): Promise<RunWithExperiment> {
  const id = runIdParam(raw);
  const run = await store.getRun(id);
  if (!run) throw new HttpError(404, 'RUN_NOT_FOUND', `no run with id ${id}`);
  return run;
}

/** Whether a run was created through `POST /api/v1/runs/external` (tracked here, trained elsewhere). */
export function isExternal(run: RunWithExperiment): boolean {
  try {
    const config = JSON.parse(run.config) as { external?: unknown };
    return config.external === true;
  } catch {
    return false;
  }
}

/** Resolves 'latest' | 'best' | a step number | a checkpoint id to a checkpoint of the run; 404 naming both otherwise. */
export async function findCheckpoint(store: Pick<ApiTrackingStore, 'findCheckpoint' | 'getCheckpoint'>, runId: string, which: string | number): Promise<CheckpointRecord> {
  let ck: CheckpointRecord | null;
  if (which === 'latest' || which === 'best') ck = await store.findCheckpoint(runId, which);
  else if (typeof which === 'number' || /^\d+$/.test(which)) ck = await store.findCheckpoint(runId, Number(which));
  else ck = await store.getCheckpoint(runId, which);
  if (!ck) throw new HttpError(404, 'RUN_NOT_FOUND', `run ${runId} has no checkpoint "${String(which)}"`);
  return ck;
}
