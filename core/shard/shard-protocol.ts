import { z } from 'zod';
import { BinarySchema, type AckResult } from '../protocol/messages.ts';
import { CHUNK_BYTES } from '../protocol/version.ts';
import { bytesToFloat32, float32ToBytes } from '../codec/float-bytes.ts';

/**
 * The wire protocol between the coordinator and shard owners (`mode: sharded`). Owners connect to
 * the Socket.io namespace {@link SHARD_NAMESPACE} with the worker join token (the same handshake
 * auth as workers), say `owner:hello`, and then hold ranges of runs' flat parameter vectors: the
 * master values and the optimizer state of each range. Every coordinator request carries an ack;
 * both ends validate every payload with these schemas.
 *
 * All vectors are little-endian float32 bytes. A range is at most {@link MAX_RANGE_VALUES} values,
 * so one range's vector always fits one message.
 */
export const SHARD_NAMESPACE = '/shard';

/** Most float32 values in one range (one range's vector fits one Socket.io message). */
export const MAX_RANGE_VALUES = CHUNK_BYTES / 4;

const Id = z.string().min(1).max(128).regex(/^[A-Za-z0-9_.:-]+$/, 'only letters, digits and _ . : -');
const Count = z.number().int().nonnegative();

/** A vector of float32 values as bytes (length a multiple of 4). */
const Float32Bytes = BinarySchema.refine((b) => b.byteLength % 4 === 0, { message: 'float32 bytes must be a multiple of 4 long' });

/** owner -> coordinator: introduce yourself (first message after connect). */
export const OwnerHelloSchema = z.strictObject({
  name: z.string().max(128).optional(),
  /** Stable id of an owner that reconnects. */
  ownerId: Id.optional(),
});
/** Owner hello as an owner sends it. */
export type OwnerHello = z.input<typeof OwnerHelloSchema>;

/** coordinator -> owner reply to `owner:hello`. */
export interface OwnerWelcome {
  ownerId: string;
}

/** A half-open range [start, end) of a run's flat parameter vector, by its index in the run's shard plan. */
export const RangeRefSchema = z.strictObject({
  runId: Id,
  index: Count,
});

/**
 * coordinator -> owner: hold range `index` = [start, end) of run `runId`: its master parameters,
 * and the optimizer `optimizer` (a spec as in run configs) with `updates` completed updates and
 * the given slots (absent slots: a fresh optimizer). Replaces a range the owner already holds.
 */
export const ShardLoadSchema = RangeRefSchema.extend({
  start: Count,
  end: z.number().int().positive(),
  optimizer: z.record(z.string(), z.unknown()),
  updates: Count,
  params: Float32Bytes,
  slots: z.record(z.string().max(32), Float32Bytes).optional(),
}).refine((m) => m.end > m.start && m.end - m.start <= MAX_RANGE_VALUES, {
  message: `a range must have 1 to ${MAX_RANGE_VALUES} values`,
});
/** Shard load as the coordinator sends it. */
export type ShardLoad = z.input<typeof ShardLoadSchema>;

/**
 * coordinator -> owner: update `step` (0-based, the run's update count before it): apply the
 * optimizer to the range with the reduced gradient of the range `grad`, multiplied by `scale`
 * first (global-norm clipping, decided where the whole norm is known), at learning rate `lr`.
 * The ack carries the range's new parameters.
 */
export const ShardStepSchema = RangeRefSchema.extend({
  step: Count,
  lr: z.number().nonnegative().finite(),
  scale: z.number().positive().finite(),
  grad: Float32Bytes,
});
/** Shard step as the coordinator sends it. */
export type ShardStep = z.input<typeof ShardStepSchema>;

/** coordinator -> owner: send the range's optimizer state (for a checkpoint or a new replica). */
export const ShardStateRequestSchema = RangeRefSchema;
/** State request as the coordinator sends it. */
export type ShardStateRequest = z.input<typeof ShardStateRequestSchema>;

/** coordinator -> owner: forget the ranges of run `runId` (one range when `index` is given). */
export const ShardDropSchema = z.strictObject({ runId: Id, index: Count.optional() });
/** Shard drop as the coordinator sends it. */
export type ShardDrop = z.input<typeof ShardDropSchema>;

/** Ack of `shard:load`. */
export const ShardLoadedSchema = z.strictObject({ ok: z.literal(true), values: z.number().int().positive() });
/** Ack of `shard:step`: the range's parameters after the step, and the update count. */
export const ShardSteppedSchema = z.strictObject({ ok: z.literal(true), updates: Count, params: Float32Bytes });
/** Ack of `shard:state`: the optimizer's update count and slots. */
export const ShardStateSchema = z.strictObject({
  ok: z.literal(true),
  name: z.string().max(32),
  updates: Count,
  slots: z.record(z.string().max(32), Float32Bytes),
});

/** Ack payload types (successful halves of {@link AckResult}). */
export type ShardLoaded = Omit<z.infer<typeof ShardLoadedSchema>, 'ok'>;
export type ShardStepped = Omit<z.infer<typeof ShardSteppedSchema>, 'ok'>;
export type ShardStateReply = Omit<z.infer<typeof ShardStateSchema>, 'ok'>;

/** Events the coordinator emits to owners. */
export interface ShardServerToOwnerEvents {
  'shard:load': (msg: ShardLoad, ack: (res: AckResult<ShardLoaded>) => void) => void;
  'shard:step': (msg: ShardStep, ack: (res: AckResult<ShardStepped>) => void) => void;
  'shard:state': (msg: ShardStateRequest, ack: (res: AckResult<ShardStateReply>) => void) => void;
  'shard:drop': (msg: ShardDrop) => void;
}

/** Events owners emit to the coordinator (payloads as a well-behaved owner sends them). */
export interface ShardOwnerToServerEvents {
  'owner:hello': (msg: OwnerHello, ack: (res: AckResult<OwnerWelcome>) => void) => void;
}

/** Float32 values of validated bytes (a view when aligned, else a copy: socket.io's Buffers may start at any offset). */
export function float32Of(bytes: Uint8Array): Float32Array {
  return bytesToFloat32(bytes);
}

/** Bytes of a float32 vector, for the wire (a view, no copy). */
export function bytesOf(values: Float32Array): Uint8Array {
  return float32ToBytes(values);
}
