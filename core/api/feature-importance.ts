import { z } from 'zod';

/** The Event kind a run on a csv data set records once, when it finishes, with a {@link FeatureImportanceDetail} as its detail. */
export const FEATURE_IMPORTANCE_EVENT = 'feature_importance';

/** Any number, NaN and ±Infinity included (the loss of a diverged model is stored as it is). */
const AnyNumber = z.custom<number>((v) => typeof v === 'number', 'expected a number');

/** One source column's permutation importance: mean and standard deviation over the repeats. */
export const ColumnImportanceSchema = z.object({
  column: z.string(),
  accuracy_drop_mean: AnyNumber,
  accuracy_drop_std: AnyNumber,
  loss_rise_mean: AnyNumber,
  loss_rise_std: AnyNumber,
});

/**
 * The detail of a `feature_importance` Event: permutation feature importance of the final
 * parameters (`step`) on the test split (core/metrics/permutation-importance.ts), `repeats`
 * permutations per source column; `baseline` is the unpermuted score; `columns` is sorted by
 * accuracy drop, largest first; `truncated` when the data set had more columns than were measured.
 */
export const FeatureImportanceDetailSchema = z.object({
  step: z.number().int().nonnegative(),
  repeats: z.number().int().min(1),
  /** The score whose drop ranks the columns (the loss rise is reported alongside). */
  metric: z.literal('accuracy'),
  baseline: z.object({ loss: AnyNumber, accuracy: AnyNumber }),
  truncated: z.boolean(),
  /** Source columns of the data set; `columns` holds the first 100 of them when `truncated`. */
  total_columns: z.number().int().nonnegative(),
  columns: z.array(ColumnImportanceSchema),
});
/** A run's feature importance as stored in its Event. */
export type FeatureImportanceDetail = z.infer<typeof FeatureImportanceDetailSchema>;

/** Body of `GET /api/v1/runs/:id/feature-importance`: the run's feature importance and when it was recorded. */
export const FeatureImportanceSchema = FeatureImportanceDetailSchema.extend({ runId: z.string(), time: z.string() });
/** Feature importance as the REST API answers it. */
export type FeatureImportance = z.infer<typeof FeatureImportanceSchema>;
