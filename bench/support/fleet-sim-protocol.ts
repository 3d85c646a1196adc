/**
 * The IPC messages between the fleet-sim bench (parent: the coordinator's process) and its client
 * processes (fleet-sim-client.ts, each hosting many simulated workers), validated with zod on
 * both sides. Sent over a `fork` channel with `serialization: 'advanced'`, so the gradient bytes
 * travel as a Uint8Array.
 */
import { z } from 'zod';

/** parent -> client: connect `workers` simulated workers and answer every step with `gradient`. */
export const SimStartSchema = z.strictObject({
  type: z.literal('start'),
  url: z.url(),
  token: z.string().min(1),
  /** Simulated workers in this process. */
  workers: z.int().min(1).max(4096),
  /** Worker names are `<namePrefix>-<i>`. */
  namePrefix: z.string().min(1).max(64),
  /** Parameters of the run's model: a run:assign naming another count is refused with SHAPE_MISMATCH (as a real worker does). */
  paramCount: z.int().positive(),
  /** Train split size the RunReady ack reports. */
  datasetSize: z.int().positive(),
  /** The precomputed gradient (float32 little-endian, paramCount values) this process replays. */
  gradient: z.custom<Uint8Array>((v) => v instanceof Uint8Array, { message: 'expected the gradient as a Uint8Array' }),
  /** Mean loss and accuracy of the slice the gradient was computed on (reported in grad:commit). */
  loss: z.number(),
  accuracy: z.number().min(0).max(1),
  /** Workers that connect at once (the rest wait for a hello ack), to spread the connection storm. */
  connectConcurrency: z.int().min(1).max(4096),
});
/** Start message. */
export type SimStart = z.infer<typeof SimStartSchema>;

/** parent -> client: report counters now, or disconnect every worker and exit. */
export const SimRequestSchema = z.discriminatedUnion('type', [SimStartSchema, z.strictObject({ type: z.literal('stats') }), z.strictObject({ type: z.literal('close') })]);
/** Any parent -> client message. */
export type SimRequest = z.infer<typeof SimRequestSchema>;

/** What one client process's workers did so far. */
export const SimStatsSchema = z.strictObject({
  /** step:assign messages answered with a result. */
  steps: z.int().nonnegative(),
  /** Commits the coordinator refused (the first refusal's message is in `firstRefusal`). */
  refused: z.int().nonnegative(),
  firstRefusal: z.string().nullable(),
  /** Refused commits by `"<step> <code>"` (step -1: none known; code ERROR: the step failed here). */
  refusedSteps: z.record(z.string(), z.int().nonnegative()),
  /** step:decline sent (a step for a params version this worker did not hold). */
  declined: z.int().nonnegative(),
  /** params:chunk messages and their payload bytes received. */
  paramsChunks: z.int().nonnegative(),
  paramsBytes: z.int().nonnegative(),
  /** run:assign messages acked. */
  assigns: z.int().nonnegative(),
  /** Socket disconnects seen after joining (a simulated worker was evicted or lost its connection). */
  disconnects: z.int().nonnegative(),
  /** Those disconnects by socket.io's reason (`ping timeout`, `io server disconnect`, `transport close`, ...). */
  disconnectReasons: z.record(z.string(), z.int().nonnegative()),
});
/** Client counters. */
export type SimStats = z.infer<typeof SimStatsSchema>;

/** client -> parent. */
export const SimReplySchema = z.discriminatedUnion('type', [
  /** Every worker of the process has connected and had its worker:hello accepted. */
  z.strictObject({ type: z.literal('joined'), workers: z.int().nonnegative() }),
  z.strictObject({ type: z.literal('stats'), stats: SimStatsSchema }),
  z.strictObject({ type: z.literal('error'), message: z.string() }),
]);
/** Any client -> parent message. */
export type SimReply = z.infer<typeof SimReplySchema>;
