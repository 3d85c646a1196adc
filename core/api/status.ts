import { z } from 'zod';
import { WorkerKindSchema } from '../protocol/messages.ts';
import { RunProgressSchema } from './stream.ts';

/** One connected worker as `GET /api/v1/status` reports it, with the run it serves. */
export const StatusWorkerSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: WorkerKindSchema,
  backend: z.string(),
  steps: z.number().int(),
  samples: z.number().int(),
  samplesPerSec: z.number().nullable(),
  lastSeenAt: z.string(),
  /** The run it serves now (null: idle). */
  runId: z.string().nullable(),
});
/** A worker row of the status page. */
export type StatusWorker = z.infer<typeof StatusWorkerSchema>;

/** A run the coordinator is training now: its live progress (the stream's), its experiment, mode and placement. */
export const StatusRunSchema = RunProgressSchema.extend({
  experiment: z.string(),
  /** The training mode (`ddp`, …). */
  mode: z.string(),
  priority: z.number().int(),
  minWorkers: z.number().int(),
  maxWorkers: z.number().int().nullable(),
});
/** An active run of the status page. */
export type StatusRun = z.infer<typeof StatusRunSchema>;

/** One entry of the status page's recent runs, with its best eval accuracy (null before any eval). */
export const StatusRecentRunSchema = z.object({
  id: z.string(),
  name: z.string(),
  status: z.string(),
  step: z.number().int(),
  totalUpdates: z.number().int(),
  bestAccuracy: z.number().nullable(),
  createdAt: z.string(),
});
/** A recent-run row of the status page. */
export type StatusRecentRun = z.infer<typeof StatusRecentRunSchema>;

/**
 * How workers join: the headless command, the coordinator URL and a tab's join path (relative to
 * the dashboard's origin). The worker token is in them only for a request with the admin token, or
 * when the coordinator runs with `--public-join`; otherwise `command` has a `<worker token>`
 * placeholder, `contributePath` is null and `tokenHint` says how to get the token.
 */
export const StatusJoinSchema = z.object({
  command: z.string(),
  url: z.string(),
  contributePath: z.string().nullable(),
  /** null when `command` and `contributePath` carry the token; otherwise how to get it. */
  tokenHint: z.string().nullable().default(null),
});
/** The join section of the status page. */
export type StatusJoin = z.infer<typeof StatusJoinSchema>;

/** The placeholder `join.command` has instead of the worker token when the token is withheld. */
export const JOIN_TOKEN_PLACEHOLDER = '<worker token>';

/** A training mode the coordinator can run (from its mode registry). */
export const StatusModeSchema = z.object({ name: z.string(), summary: z.string() });

/** A shard owner connected to the coordinator's `/shard` namespace (mode: sharded), by id and the name it said hello with. */
export const StatusShardOwnerSchema = z.object({ id: z.string(), name: z.string() });
/** A shard-owner row of the status body. */
export type StatusShardOwner = z.infer<typeof StatusShardOwnerSchema>;

/**
 * Body of `GET /api/v1/status`: every active run, every connected worker with the run it serves,
 * the 20 most recent runs, how to join, the training modes a run config may name, and the
 * connected shard owners (empty from a coordinator that reports none).
 * @example const status = StatusSchema.parse(await (await fetch('/api/v1/status')).json());
 */
export const StatusSchema = z.object({
  version: z.string(),
  activeRuns: z.array(StatusRunSchema),
  workers: z.array(StatusWorkerSchema),
  runs: z.array(StatusRecentRunSchema),
  join: StatusJoinSchema,
  modes: z.array(StatusModeSchema).min(1),
  shardOwners: z.array(StatusShardOwnerSchema).default([]),
});
/** A parsed status body. */
export type Status = z.infer<typeof StatusSchema>;

/** Body of `GET /healthz`. */
export const HealthSchema = z.object({ ok: z.literal(true) });
