import { z } from 'zod';

/** The Event kind a run records once per evaluation, with an {@link EvaluationReportDetail} as its detail. */
export const EVALUATION_REPORT_EVENT = 'evaluation_report';

const Score = z.number().min(0).max(1);
const Count = z.number().int().nonnegative();

/** Precision, recall, F1 and support (true samples) of one class. */
export const ClassScoresSchema = z.object({ class: z.string(), precision: Score, recall: Score, f1: Score, support: Count });

/** An average over the classes (macro: unweighted, weighted: by support); `support` is the total. */
export const AveragedScoresSchema = z.object({ precision: Score, recall: Score, f1: Score, support: Count });

/**
 * The detail of an `evaluation_report` Event: the classification report of the evaluation at
 * `step` on the test split (core/metrics/classification-report.ts; 0/0 is 0, as scikit-learn's
 * `zero_division=0`). `confusion[t][p]` counts test samples of true class `t` predicted as `p`.
 */
export const EvaluationReportDetailSchema = z.object({
  step: z.number().int().nonnegative(),
  classes: z.array(z.string()).min(1),
  confusion: z.array(z.array(Count)),
  per_class: z.array(ClassScoresSchema),
  macro: AveragedScoresSchema,
  weighted: AveragedScoresSchema,
  accuracy: Score,
});
/** One evaluation's report as stored in its Event. */
export type EvaluationReportDetail = z.infer<typeof EvaluationReportDetailSchema>;

/** Body of `GET /api/v1/runs/:id/evaluation`: a report of the run (the latest, or the one at `?step=N`) and when it was recorded. */
export const EvaluationReportSchema = EvaluationReportDetailSchema.extend({ runId: z.string(), time: z.string() });
/** An evaluation report as the REST API answers it. */
export type EvaluationReport = z.infer<typeof EvaluationReportSchema>;
