import { z } from 'zod';

/** A checkpoint as the REST API lists it, with the URL that downloads its file. */
export const CheckpointViewSchema = z.object({
  id: z.string(),
  step: z.number().int(),
  sha256: z.string(),
  sizeBytes: z.number(),
  isLatest: z.boolean(),
  isBest: z.boolean(),
  metricValue: z.number().nullable(),
  createdAt: z.string(),
  downloadUrl: z.string(),
});
/** A checkpoint. */
export type CheckpointView = z.infer<typeof CheckpointViewSchema>;

/** Body of `GET /api/v1/runs/:id/checkpoints`. */
export const CheckpointListSchema = z.object({ runId: z.string(), checkpoints: z.array(CheckpointViewSchema) });
/** A run's checkpoints. */
export type CheckpointList = z.infer<typeof CheckpointListSchema>;
