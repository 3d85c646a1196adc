import { z } from 'zod';
import { CheckpointViewSchema } from './checkpoints.ts';
import { RunProgressSchema } from './stream.ts';

/** Last value, extremes and count of one metric of a run (values that are not finite are null). */
export const MetricSummarySchema = z.object({
  last: z.number().nullable(),
  min: z.number().nullable(),
  max: z.number().nullable(),
  lastStep: z.number().int(),
  count: z.number().int(),
});
/** A metric summary. */
export type MetricSummary = z.infer<typeof MetricSummarySchema>;

/** One run as `GET /api/v1/runs` and `GET /api/v1/runs/:id` describe it. */
export const RunSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  experiment: z.string(),
  /** queued, running, paused, finished, failed or stopped. */
  status: z.string(),
  /** The training mode (`ddp`, …). */
  mode: z.string(),
  /** Tracked here but trained elsewhere (`POST /api/v1/runs/external`). */
  external: z.boolean(),
  step: z.number().int(),
  totalUpdates: z.number().int(),
  seed: z.number().int(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  endedAt: z.string().nullable(),
  durationMs: z.number().nullable(),
  error: z.string().nullable(),
  /** Workers training it now; null when it is not training. */
  liveWorkers: z.number().int().nullable(),
  /** Workers that ever contributed (the list endpoint counts them; null elsewhere). */
  contributors: z.number().int().nullable(),
  metrics: z.record(z.string(), MetricSummarySchema),
});
/** A run summary. */
export type RunSummary = z.infer<typeof RunSummarySchema>;

/** Body of `GET /api/v1/runs`: one page of runs and the total that matched. */
export const RunListSchema = z.object({ total: z.number().int(), take: z.number().int(), skip: z.number().int(), runs: z.array(RunSummarySchema) });
/** A page of runs. */
export type RunList = z.infer<typeof RunListSchema>;

/** Body of `GET /api/v1/runs/:id`: the run, its params, config, checkpoints and live progress (null unless it trains). */
export const RunDetailSchema = z.object({
  run: RunSummarySchema,
  params: z.record(z.string(), z.string()),
  config: z.unknown(),
  checkpoints: z.array(CheckpointViewSchema),
  live: RunProgressSchema.nullable(),
});
/** A run with params, config, checkpoints and live progress. */
export type RunDetail = z.infer<typeof RunDetailSchema>;

/** Body of `POST /api/v1/runs` and `POST /api/v1/runs/external` (201): the new run and its dashboard page. */
export const CreatedRunSchema = z.object({ run: RunSummarySchema, url: z.string() });
/** A created run. */
export type CreatedRun = z.infer<typeof CreatedRunSchema>;

/** Body of `GET /api/v1/runs/:id/metrics`: every logged key with its summary. */
export const MetricKeysSchema = z.object({
  runId: z.string(),
  metrics: z.array(MetricSummarySchema.extend({ key: z.string() })),
});
/** A run's metric keys. */
export type MetricKeys = z.infer<typeof MetricKeysSchema>;

/** One point of a metric's history. */
export const MetricPointSchema = z.object({ step: z.number().int(), value: z.number(), time: z.string() });
/** A metric point. */
export type MetricPoint = z.infer<typeof MetricPointSchema>;

/** Body of `GET /api/v1/runs/:id/metrics/:key`: the points in step order. */
export const MetricHistorySchema = z.object({ runId: z.string(), key: z.string(), points: z.array(MetricPointSchema) });
/** A metric history. */
export type MetricHistory = z.infer<typeof MetricHistorySchema>;

/** One event of a run's log (joins, leaves, rejected updates, checkpoints, resumes, errors). */
export const RunEventSchema = z.object({
  id: z.number().int(),
  runId: z.string().nullable(),
  workerId: z.string().nullable(),
  time: z.string(),
  kind: z.string(),
  detail: z.unknown(),
});
/** One event of a run's timeline. */
export type RunEvent = z.infer<typeof RunEventSchema>;

/** Body of `GET /api/v1/runs/:id/events`: the run's events in time order. */
export const RunEventsSchema = z.object({ runId: z.string(), events: z.array(RunEventSchema) });
/** A run's event log. */
export type RunEvents = z.infer<typeof RunEventsSchema>;

/** Body of `POST /api/v1/runs/:id/log`: how many metric points and params were written. */
export const LogResultSchema = z.object({ runId: z.string(), logged: z.object({ metrics: z.number().int(), params: z.number().int() }) });

/** How a training session ended. */
export const RunOutcomeSchema = z.object({
  status: z.enum(['finished', 'stopped', 'failed']),
  step: z.number().int(),
  reason: z.string(),
  evalAccuracy: z.number().nullable(),
  evalLoss: z.number().nullable(),
});
/** A session's outcome. */
export type RunOutcome = z.infer<typeof RunOutcomeSchema>;

/** Body of `POST /api/v1/runs/:id/stop`, sent once the run has stopped and checkpointed. */
export const StopResultSchema = z.object({ runId: z.string(), outcome: RunOutcomeSchema });

/** Body of `POST /api/v1/runs/:id/pause`. */
export const PauseResultSchema = z.object({ runId: z.string(), status: z.literal('paused'), step: z.number().int() });

/** Body of `POST /api/v1/runs/:id/resume`: the step training continues from and the run's page. */
export const ResumeResultSchema = z.object({ runId: z.string(), step: z.number().int(), url: z.string() });

/** Body of `POST /api/v1/runs/:id/end` (external runs). */
export const EndResultSchema = z.object({ runId: z.string(), status: z.string() });
