import { z } from 'zod';
import { WorkerKindSchema } from '../protocol/messages.ts';

/** A connected worker as `GET /api/v1/fleet` reports it. */
export const LiveWorkerSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: WorkerKindSchema,
  backend: z.string(),
  deviceInfo: z.unknown(),
  connectedAt: z.string(),
  lastSeenAt: z.string(),
  steps: z.number().int(),
  samples: z.number().int(),
  samplesPerSec: z.number().nullable(),
  rejected: z.number().int(),
  /** Its samples/s is below half the fleet median. */
  straggler: z.boolean(),
  /** Smoothed cosine similarity of its gradients with the rest of the fleet (null until observed). */
  gradientAgreement: z.number().nullable(),
  /** Its gradients disagree with the fleet beyond tolerance. */
  gradientOutlier: z.boolean(),
  /** Its fraction of the last applied update's global batch (0: a spare that sat it out; null: not in the active run yet). */
  share: z.number().min(0).max(1).nullable(),
});
/** A connected worker. */
export type LiveWorker = z.infer<typeof LiveWorkerSchema>;

/** Body of `GET /api/v1/fleet`: the workers connected now, and their totals. */
export const LiveFleetSchema = z.object({
  activeRunId: z.string().nullable(),
  workers: z.array(LiveWorkerSchema),
  totals: z.object({
    workers: z.number().int(),
    samples: z.number().int(),
    /** The sum of the members' own rates (what they could train alone). */
    samplesPerSec: z.number(),
    /** What the active run really trains per second (null without one): compare with the sum. */
    runSamplesPerSec: z.number().nullable(),
    rejected: z.number().int(),
  }),
});
/** The live fleet. */
export type LiveFleet = z.infer<typeof LiveFleetSchema>;

/** One worker that contributed to a run, as `GET /api/v1/runs/:id/fleet` reports it. */
export const RunFleetWorkerSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: WorkerKindSchema,
  backend: z.string(),
  deviceInfo: z.unknown(),
  userAgent: z.string().nullable(),
  connected: z.boolean(),
  lastSeenAt: z.string(),
  steps: z.number().int(),
  samples: z.number().int(),
  bytesIn: z.number(),
  bytesOut: z.number(),
  rejected: z.number().int(),
  lastRejectReason: z.string().nullable(),
  samplesPerSec: z.number().nullable(),
  straggler: z.boolean(),
});
/** A run's contributor. */
export type RunFleetWorker = z.infer<typeof RunFleetWorkerSchema>;

/** Body of `GET /api/v1/runs/:id/fleet`: every worker that contributed to the run, and the totals. */
export const RunFleetSchema = z.object({
  runId: z.string(),
  workers: z.array(RunFleetWorkerSchema),
  totals: z.object({
    workers: z.number().int(),
    connected: z.number().int(),
    steps: z.number().int(),
    samples: z.number().int(),
    bytesIn: z.number(),
    bytesOut: z.number(),
    rejected: z.number().int(),
  }),
});
/** A run's fleet. */
export type RunFleet = z.infer<typeof RunFleetSchema>;
