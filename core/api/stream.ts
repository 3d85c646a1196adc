import { z } from 'zod';

/** The in-memory progress of the training run (`live` of a run's detail, `progress` events of its stream). */
export const RunProgressSchema = z.object({
  runId: z.string(),
  name: z.string(),
  status: z.string(),
  step: z.number().int(),
  totalUpdates: z.number().int(),
  epoch: z.number().int(),
  trainLoss: z.number().nullable(),
  evalLoss: z.number().nullable(),
  evalAccuracy: z.number().nullable(),
  bestAccuracy: z.number().nullable(),
  lr: z.number().nullable(),
  samplesPerSec: z.number().nullable(),
  activeWorkers: z.number().int(),
  startedAt: z.string(),
});
/** Live progress of a training run. */
export type RunProgress = z.infer<typeof RunProgressSchema>;

/** One metric point pushed by the stream (no time: it was just logged). */
export const StreamMetricPointSchema = z.object({ key: z.string(), step: z.number().int(), value: z.number() });
/** A pushed metric point. */
export type StreamMetricPoint = z.infer<typeof StreamMetricPointSchema>;

/** Data of a `metrics` event of `GET /api/v1/runs/:id/stream`: points logged in the last 500 ms. */
export const StreamMetricsSchema = z.object({ runId: z.string(), points: z.array(StreamMetricPointSchema) });

/** Data of a `checkpoint` event: the run wrote a checkpoint at `step` (reason: periodic, final, time_limit, signal or stopped). */
export const StreamCheckpointSchema = z.object({ runId: z.string(), step: z.number().int(), reason: z.string() });

/**
 * Data of the `ended` event, after which the stream closes: the outcome of the session (status,
 * step, reason, final eval), or, for a run that was not training, only its stored status and step.
 */
export const StreamEndedSchema = z.object({
  runId: z.string(),
  status: z.string(),
  step: z.number().int(),
  reason: z.string().optional(),
  evalAccuracy: z.number().nullable().optional(),
  evalLoss: z.number().nullable().optional(),
});

/** The event names of the run stream and the schema of each one's data. */
export const RunStreamEventSchemas = {
  progress: RunProgressSchema,
  metrics: StreamMetricsSchema,
  checkpoint: StreamCheckpointSchema,
  ended: StreamEndedSchema,
} as const;
/** A run stream event name. */
export type RunStreamEvent = keyof typeof RunStreamEventSchemas;
