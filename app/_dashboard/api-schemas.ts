import { z } from 'zod';

/** Last value, extremes and count of one metric, as the REST API summarises it. */
export const metricSummarySchema = z.object({
  last: z.number().nullable(),
  min: z.number().nullable(),
  max: z.number().nullable(),
  lastStep: z.number(),
  count: z.number(),
});

/** One run as `GET /api/v1/runs` and `GET /api/v1/runs/:id` describe it. */
export const runSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  experiment: z.string(),
  status: z.string(),
  mode: z.string(),
  external: z.boolean(),
  step: z.number(),
  totalUpdates: z.number(),
  seed: z.number(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  endedAt: z.string().nullable(),
  durationMs: z.number().nullable(),
  error: z.string().nullable(),
  liveWorkers: z.number().nullable(),
  /** Workers that contributed to the run (list endpoint only). */
  contributors: z.number().nullable(),
  metrics: z.record(z.string(), metricSummarySchema),
});
/** A run summary. */
export type RunSummary = z.infer<typeof runSummarySchema>;

/** Body of `GET /api/v1/runs`. */
export const runListSchema = z.object({ total: z.number(), take: z.number(), skip: z.number(), runs: z.array(runSummarySchema) });
/** A page of runs. */
export type RunList = z.infer<typeof runListSchema>;

/** A checkpoint as the REST API lists it. */
export const checkpointSchema = z.object({
  id: z.string(),
  step: z.number(),
  sha256: z.string(),
  sizeBytes: z.number(),
  isLatest: z.boolean(),
  isBest: z.boolean(),
  metricValue: z.number().nullable(),
  createdAt: z.string(),
  downloadUrl: z.string(),
});
/** A checkpoint. */
export type CheckpointView = z.infer<typeof checkpointSchema>;

/** Body of `GET /api/v1/runs/:id`. */
export const runDetailSchema = z.object({
  run: runSummarySchema,
  params: z.record(z.string(), z.string()),
  config: z.unknown(),
  checkpoints: z.array(checkpointSchema),
  live: z
    .object({ step: z.number(), status: z.string(), activeWorkers: z.number(), samplesPerSec: z.number().nullable() })
    .passthrough()
    .nullable(),
});
/** A run with params, config, checkpoints and live progress. */
export type RunDetail = z.infer<typeof runDetailSchema>;

/** Body of `GET /api/v1/runs/:id/metrics`. */
export const metricKeysSchema = z.object({
  runId: z.string(),
  metrics: z.array(metricSummarySchema.extend({ key: z.string() })),
});

/** One metric point. */
export const metricPointSchema = z.object({ step: z.number(), value: z.number(), time: z.string() });
/** Body of `GET /api/v1/runs/:id/metrics/:key`. */
export const metricHistorySchema = z.object({ runId: z.string(), key: z.string(), points: z.array(metricPointSchema) });

/** Body of `GET /api/v1/runs/:id/events`. */
export const eventsSchema = z.object({
  runId: z.string(),
  events: z.array(z.object({ id: z.number(), workerId: z.string().nullable(), time: z.string(), kind: z.string(), detail: z.unknown() })),
});
/** One event of a run's timeline. */
export type EventView = z.infer<typeof eventsSchema>['events'][number];

/** One worker of a run, as `GET /api/v1/runs/:id/fleet` reports it. */
export const runFleetWorkerSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.string(),
  backend: z.string(),
  deviceInfo: z.unknown(),
  userAgent: z.string().nullable(),
  connected: z.boolean(),
  lastSeenAt: z.string(),
  steps: z.number(),
  samples: z.number(),
  bytesIn: z.number(),
  bytesOut: z.number(),
  rejected: z.number(),
  lastRejectReason: z.string().nullable(),
  samplesPerSec: z.number().nullable(),
  straggler: z.boolean(),
});
/** Body of `GET /api/v1/runs/:id/fleet`. */
export const runFleetSchema = z.object({
  runId: z.string(),
  workers: z.array(runFleetWorkerSchema),
  totals: z.object({ workers: z.number(), connected: z.number(), steps: z.number(), samples: z.number(), bytesIn: z.number(), bytesOut: z.number(), rejected: z.number() }),
});
/** A run's fleet. */
export type RunFleet = z.infer<typeof runFleetSchema>;

/** Body of `GET /api/v1/fleet`: the workers connected now. */
export const liveFleetSchema = z.object({
  activeRunId: z.string().nullable(),
  workers: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      kind: z.string(),
      backend: z.string(),
      deviceInfo: z.unknown(),
      connectedAt: z.string(),
      lastSeenAt: z.string(),
      steps: z.number(),
      samples: z.number(),
      samplesPerSec: z.number().nullable(),
      rejected: z.number(),
      straggler: z.boolean(),
      gradientAgreement: z.number().nullable().optional(),
      gradientOutlier: z.boolean().optional(),
    }),
  ),
  totals: z.object({ workers: z.number(), samples: z.number(), samplesPerSec: z.number(), rejected: z.number() }),
});
/** The live fleet. */
export type LiveFleet = z.infer<typeof liveFleetSchema>;

/** One model version with lineage. */
export const modelVersionSchema = z.object({
  id: z.string(),
  modelName: z.string(),
  version: z.number(),
  aliases: z.array(z.string()),
  description: z.string().nullable(),
  createdAt: z.string(),
  sourceRunId: z.string().nullable(),
  sourceRunName: z.string().nullable(),
  sourceCheckpointId: z.string().nullable(),
  sourceStep: z.number().nullable(),
});
/** Body of `GET /api/v1/models`. */
export const modelListSchema = z.object({
  models: z.array(z.object({ id: z.string(), name: z.string(), description: z.string().nullable(), createdAt: z.string(), versions: z.array(modelVersionSchema) })),
});
/** The registry. */
export type ModelList = z.infer<typeof modelListSchema>;

/** An API error body. */
export const apiErrorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
