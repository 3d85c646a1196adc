/**
 * Wire error codes. String constants (never numeric enums) so that reordering cannot change
 * what a code means on the wire.
 */
export const ErrorCode = {
  BAD_TOKEN: 'BAD_TOKEN',
  PROTOCOL_MISMATCH: 'PROTOCOL_MISMATCH',
  INVALID_MESSAGE: 'INVALID_MESSAGE',
  OVERSIZED: 'OVERSIZED',
  SHAPE_MISMATCH: 'SHAPE_MISMATCH',
  NON_FINITE: 'NON_FINITE',
  NORM_TOO_LARGE: 'NORM_TOO_LARGE',
  STALE_UPDATE: 'STALE_UPDATE',
  NOT_ASSIGNED: 'NOT_ASSIGNED',
  DUPLICATE_UPDATE: 'DUPLICATE_UPDATE',
  RUN_NOT_FOUND: 'RUN_NOT_FOUND',
  NO_ACTIVE_RUN: 'NO_ACTIVE_RUN',
  /** The run cannot start now: it is already training, the active-run limit is reached, or the coordinator is shutting down. */
  RUN_CONFLICT: 'RUN_CONFLICT',
  INVALID_CONFIG: 'INVALID_CONFIG',
  BACKEND_UNAVAILABLE: 'BACKEND_UNAVAILABLE',
  /** run:assign names a task kind this worker has no implementation of (the message lists the kinds it has). */
  UNKNOWN_TASK: 'UNKNOWN_TASK',
  CHECKPOINT_INVALID: 'CHECKPOINT_INVALID',
  /** A sharded run lost every holder of a range (its state is only in the last checkpoint): the coordinator rewinds the run to it. */
  SHARD_LOST: 'SHARD_LOST',
  INTERNAL: 'INTERNAL',
} as const;

/** One of the wire error codes. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * The one error type of crowdtrain: a wire code, a message that names the offending values,
 * and an optional cause.
 * @example throw new CrowdtrainError('SHAPE_MISMATCH', 'update has 288 values, expected 72');
 */
export class CrowdtrainError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CrowdtrainError';
    this.code = code;
  }
}

/** The serialisable form of an error sent to a peer. */
export interface WireError {
  code: ErrorCode;
  message: string;
}

/** Converts any thrown value into a wire error without leaking stack traces. */
export function toWireError(err: unknown): WireError {
  if (err instanceof CrowdtrainError) return { code: err.code, message: err.message };
  return { code: ErrorCode.INTERNAL, message: err instanceof Error ? err.message : String(err) };
}
