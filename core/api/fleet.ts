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
  /** Its fraction of the last applied update's global batch of its run (0: a spare that sat it out; null: not in a run yet). */
  share: z.number().min(0).max(1).nullable(),
  /** The run it serves now (null: idle). Its rate, share and straggler mark are relative to that run. */
  runId: z.string().nullable(),
});
/** A connected worker. */
export type LiveWorker = z.infer<typeof LiveWorkerSchema>;

/** One active run's part of the live fleet: statistics of its own workers only. */
export const LiveFleetRunSchema = z.object({
  runId: z.string(),
  name: z.string(),
  status: z.string(),
  priority: z.number().int(),
  minWorkers: z.number().int(),
  maxWorkers: z.number().int().nullable(),
  /** Workers serving it now. */
  workers: z.number().int(),
  /** The sum of its members' own rates (what they could train alone). */
  memberSamplesPerSec: z.number(),
  /** What the run really trains per second (null before its first updates): compare with the sum. */
  runSamplesPerSec: z.number().nullable(),
});
/** An active run on the fleet page. */
export type LiveFleetRun = z.infer<typeof LiveFleetRunSchema>;

/** Body of `GET /api/v1/fleet`: the active runs with their workers' statistics, the workers connected now, and fleet totals. */
export const LiveFleetSchema = z.object({
  runs: z.array(LiveFleetRunSchema),
  workers: z.array(LiveWorkerSchema),
  totals: z.object({
    workers: z.number().int(),
    /** Workers serving no run now. */
    idle: z.number().int(),
    samples: z.number().int(),
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
