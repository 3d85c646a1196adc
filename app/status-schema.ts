import { z } from 'zod';

const nullableNumber = z.number().nullish();
const nullableString = z.string().nullish();

/** One worker of the active run as `GET /api/v1/status` reports it. */
export const statusWorkerSchema = z.object({
  id: z.string(),
  name: nullableString,
  kind: nullableString,
  backend: nullableString,
  steps: nullableNumber,
  samples: nullableNumber,
  samplesPerSec: nullableNumber,
  lastSeenAt: nullableString,
});

/** The run the coordinator is training now. */
export const statusRunSchema = z.object({
  id: z.string(),
  name: nullableString,
  experiment: nullableString,
  status: nullableString,
  mode: nullableString,
  step: nullableNumber,
  totalUpdates: nullableNumber,
  epoch: nullableNumber,
  trainLoss: nullableNumber,
  evalLoss: nullableNumber,
  evalAccuracy: nullableNumber,
  lr: nullableNumber,
  samplesPerSec: nullableNumber,
  startedAt: nullableString,
  workers: z.array(statusWorkerSchema).nullish(),
});

/** One entry of the recent-runs list. */
export const statusRecentRunSchema = z.object({
  id: z.string(),
  name: nullableString,
  status: nullableString,
  step: nullableNumber,
  totalUpdates: nullableNumber,
  bestAccuracy: nullableNumber,
  createdAt: nullableString,
});

/**
 * The body of the coordinator's `GET /api/v1/status`; every field but ids may be null.
 * @example const status = statusSchema.parse(await (await fetch('/api/v1/status')).json());
 */
export const statusSchema = z.object({
  version: nullableString,
  run: statusRunSchema.nullish(),
  runs: z.array(statusRecentRunSchema).nullish(),
  join: z.object({ command: nullableString, url: nullableString, contributePath: nullableString }).nullish(),
});

/** Parsed `GET /api/v1/status` body. */
export type Status = z.infer<typeof statusSchema>;
/** Parsed active run. */
export type StatusRun = z.infer<typeof statusRunSchema>;
/** Parsed worker row. */
export type StatusWorker = z.infer<typeof statusWorkerSchema>;
/** Parsed recent-run row. */
export type StatusRecentRun = z.infer<typeof statusRecentRunSchema>;
