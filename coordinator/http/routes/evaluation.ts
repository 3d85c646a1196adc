import { z } from 'zod';
import { EVALUATION_REPORT_EVENT, EvaluationReportDetailSchema, EvaluationReportSchema } from '../../../core/api/evaluation-report.ts';
import { describeZodError } from '../../../core/protocol/messages.ts';
import type { EventRecord } from '../../../prisma/queries/tracking-store.ts';
import type { ApiTrackingStore, CoordinatorApi } from '../coordinator-api.ts';
import { HttpError, parseWith, queryObject } from '../http-io.ts';
import { jsonRoute, type Route } from '../route.ts';
import { requireRun } from './run-lookup.ts';

/** Query of `GET /api/v1/runs/:id/evaluation`: the step of the report (default: the latest). */
export const EvaluationQuerySchema = z
  .object({
    step: z
      .string()
      .regex(/^\d{1,10}$/, 'step must be a non-negative integer')
      .transform(Number)
      .pipe(z.number().max(2 ** 31 - 1, `step must be <= ${2 ** 31 - 1}`))
      .optional(),
  })
  .strict();

/** Reports read per query while looking for one step (newest first). */
const PAGE = 50;

/** The newest evaluation_report Event of the run, or the newest one at `step`; null when there is none. */
async function findReport(store: Pick<ApiTrackingStore, 'listEvents'>, runId: string, step: number | undefined): Promise<EventRecord | null> {
  const query = { kind: EVALUATION_REPORT_EVENT, order: 'desc' as const };
  if (step === undefined) return (await store.listEvents(runId, { ...query, take: 1 }))[0] ?? null;
  // Newest first: a run resumed from an earlier checkpoint evaluates a step again, and the later report is the one its metrics keep.
  for (let skip = 0; ; skip += PAGE) {
    const page = await store.listEvents(runId, { ...query, skip, take: PAGE });
    const hit = page.find((e) => (e.detail as { step?: unknown } | null)?.step === step);
    if (hit) return hit;
    if (page.length < PAGE) return null;
  }
}

/** A run's evaluation reports: per-class precision/recall/F1 and the confusion matrix of one evaluation. */
export function evaluationRoutes(c: CoordinatorApi): Route[] {
  return [
    jsonRoute({
      method: 'GET',
      pattern: /^\/api\/v1\/runs\/([^/]+)\/evaluation$/,
      response: EvaluationReportSchema,
      async handle({ url, params }) {
        const run = await requireRun(c.store, params[0]);
        const { step } = parseWith(EvaluationQuerySchema, queryObject(url), 'query');
        const event = await findReport(c.store, run.id, step);
        if (!event) {
          throw new HttpError(
            404,
            'RUN_NOT_FOUND',
            step === undefined
              ? `run ${run.id} has no evaluation report: it has not been evaluated yet (every eval_every updates), or it is an external run`
              : `run ${run.id} has no evaluation report at step ${step} (evaluations happen every eval_every updates)`,
          );
        }
        const detail = EvaluationReportDetailSchema.safeParse(event.detail);
        if (!detail.success) throw new HttpError(500, 'INTERNAL', `evaluation report (event ${event.id}) of run ${run.id} is malformed: ${describeZodError(detail.error)}`);
        return { status: 200, body: { runId: run.id, time: event.time.toISOString(), ...detail.data } };
      },
    }),
  ];
}
