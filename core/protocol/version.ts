/**
 * Version of the worker <-> coordinator wire protocol. Bumped on any incompatible change.
 * v2 added `gradientCompression` to run:assign; v3 added `task` (kind + options) to run:assign.
 */
export const PROTOCOL_VERSION = 3;

/** Largest Socket.io message the coordinator accepts (bytes); larger payloads are chunked. */
export const MAX_MESSAGE_BYTES = 2 * 1024 * 1024;

/** Size of one binary chunk of parameters or gradients (bytes), safely under MAX_MESSAGE_BYTES. */
export const CHUNK_BYTES = 1024 * 1024;
