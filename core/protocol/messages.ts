import { z } from 'zod';
import { ErrorCode } from './errors.ts';
import { MAX_MESSAGE_BYTES } from './version.ts';
import { GRADIENT_COMPRESSIONS } from './gradient-compressions.ts';

/**
 * Binary payload as it arrives from socket.io: a Node Buffer (a Uint8Array) on the server,
 * an ArrayBuffer in browsers. Normalised to Uint8Array by the schema.
 */
export const BinarySchema = z
  .custom<Uint8Array | ArrayBuffer>((v) => v instanceof Uint8Array || v instanceof ArrayBuffer, {
    message: 'expected binary data (Uint8Array or ArrayBuffer)',
  })
  .transform((v) => (v instanceof ArrayBuffer ? new Uint8Array(v) : v))
  .refine((v) => v.byteLength <= MAX_MESSAGE_BYTES, {
    message: `binary chunk larger than ${MAX_MESSAGE_BYTES} bytes`,
  });

const Id = z.string().min(1).max(128).regex(/^[A-Za-z0-9_.:-]+$/, 'only letters, digits and _ . : -');
const Count = z.number().int().nonnegative();

/** Socket.io handshake `auth` payload sent by every worker. */
export const HandshakeAuthSchema = z.object({
  token: z.string().min(1, 'token is required').max(512),
  protocolVersion: z.number().int().positive(),
});
/** Handshake auth. */
export type HandshakeAuth = z.infer<typeof HandshakeAuthSchema>;

/** The worker kinds. */
export const WorkerKindSchema = z.enum(['node', 'browser']);

/** worker -> coordinator: introduce yourself (first message after connect). */
export const HelloSchema = z.object({
  kind: WorkerKindSchema,
  backend: z.string().min(1).max(64),
  name: z.string().max(128).optional(),
  /** Stable id of a worker that reconnects, so its contribution is counted as the same worker. */
  workerId: Id.optional(),
  userAgent: z.string().max(512).optional(),
  /** Serve only this run (`--run ID`, `&run=ID` in a tab's join link); the worker idles while it is not active. */
  pinRun: Id.optional(),
  deviceInfo: z.record(z.string(), z.union([z.string().max(512), z.number(), z.boolean(), z.null()])).default({}),
  capabilities: z
    .object({
      convBackprop: z.boolean().default(true),
      maxBatch: z.number().int().positive().optional(),
    })
    .default({ convBackprop: true }),
});
/** Hello message. */
export type Hello = z.input<typeof HelloSchema>;

/** coordinator -> worker reply to hello. */
export interface Welcome {
  workerId: string;
  protocolVersion: number;
}

/** The task kind a worker runs when a run:assign names none (a coordinator that does not send `task` yet): the DDP gradient. */
export const DEFAULT_TASK_KIND = 'gradient';

/**
 * What a worker computes for each step of a run: a task kind the worker looks up in its registry
 * of worker tasks (core/worker/tasks), and options that task validates itself.
 */
export const TaskSpecSchema = z.object({
  kind: z.string().min(1).max(64).regex(/^[A-Za-z0-9_.:-]+$/, 'only letters, digits and _ . : -'),
  options: z.record(z.string(), z.unknown()),
});
/** A task spec as it is on the wire. */
export type TaskSpec = z.infer<typeof TaskSpecSchema>;

/** coordinator -> worker: the run this worker now serves (acked with RunReady). */
export const RunAssignSchema = z.object({
  runId: Id,
  name: z.string().max(256),
  seed: Count,
  model: z.unknown(),
  dataset: z.unknown(),
  /** Total number of float32 parameters; the worker's model must have exactly this many. */
  paramCount: z.number().int().positive(),
  /** How the worker encodes its gradients (`none` = float32). */
  gradientCompression: z.enum(GRADIENT_COMPRESSIONS),
  /**
   * What the worker computes per step; its result vector travels as `grad:chunk`s (a gradient for
   * ddp). Absent means the DDP gradient task.
   */
  task: TaskSpecSchema.default({ kind: DEFAULT_TASK_KIND, options: {} }),
});
/** Run assignment. */
export type RunAssign = z.input<typeof RunAssignSchema>;

/** worker -> coordinator ack of RunAssign. */
export const RunReadySchema = z.object({
  runId: Id,
  paramCount: Count,
  datasetSize: Count,
  /** The tfjs backend the worker trains this run on (it may switch per model). */
  backend: z.string().max(64).optional(),
});
/** Worker is ready for a run. */
export type RunReady = z.infer<typeof RunReadySchema>;

/** coordinator -> worker: one chunk of the flat parameter vector of a given version. */
export const ParamsChunkSchema = z.object({
  runId: Id,
  version: Count,
  index: Count,
  count: z.number().int().positive().max(4096),
  totalBytes: z.number().int().positive(),
  bytes: BinarySchema,
});
/** Params chunk. */
export type ParamsChunk = z.input<typeof ParamsChunkSchema>;

/** coordinator -> worker: compute the gradient of the mean loss over these samples at this params version. */
export const StepAssignSchema = z.object({
  runId: Id,
  step: Count,
  epoch: Count,
  paramsVersion: Count,
  /** Sample indices, as little-endian uint32. */
  indices: BinarySchema.refine((b) => b.byteLength % 4 === 0 && b.byteLength > 0, {
    message: 'indices must be a non-empty array of uint32',
  }),
});
/** Step assignment. */
export type StepAssign = z.input<typeof StepAssignSchema>;

/**
 * worker -> coordinator: one chunk of a step's result vector (paramCount values, encoded with the
 * run's gradient compression): the gradient of the slice's mean loss for ddp; other task kinds send
 * their own vector on the same events (e.g. a weight delta for federated modes).
 */
export const GradChunkSchema = z.object({
  runId: Id,
  step: Count,
  index: Count,
  count: z.number().int().positive().max(4096),
  totalBytes: z.number().int().positive(),
  bytes: BinarySchema,
});
/** Result (gradient) chunk. */
export type GradChunk = z.input<typeof GradChunkSchema>;

/** worker -> coordinator: all chunks of this step's result vector were sent; here are its statistics. */
export const GradCommitSchema = z.object({
  runId: Id,
  step: Count,
  paramsVersion: Count,
  sampleCount: z.number().int().positive(),
  loss: z.number(),
  accuracy: z.number().min(0).max(1),
  computeMs: z.number().nonnegative(),
});
/** Gradient commit (as validated). */
export type GradCommit = z.infer<typeof GradCommitSchema>;
/** Gradient commit as a worker sends it. */
export type GradCommitInput = z.input<typeof GradCommitSchema>;

/** worker -> coordinator: this worker cannot compute the step it was assigned (its slice is reassigned at once). */
export const StepDeclineSchema = z.object({
  runId: Id,
  step: Count,
  code: z.enum(Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]]),
  reason: z.string().max(1024),
});
/** Step decline (as validated). */
export type StepDecline = z.infer<typeof StepDeclineSchema>;
/** Step decline as a worker sends it. */
export type StepDeclineInput = z.input<typeof StepDeclineSchema>;

/** coordinator -> worker: the run ended (finished, stopped, failed). */
export const RunEndSchema = z.object({ runId: Id, status: z.string().max(32), reason: z.string().max(1024) });
/** Run end. */
export type RunEnd = z.infer<typeof RunEndSchema>;

/**
 * coordinator -> worker: stop serving run `runId` and drop its model; the worker stays connected
 * and idle until the next `run:assign` (placement moved it, or its run paused or reached max_workers).
 */
export const RunReleaseSchema = z.object({ runId: Id, reason: z.string().max(1024) });
/** Run release. */
export type RunRelease = z.infer<typeof RunReleaseSchema>;

/** Typed error payload carried in acks and `crowdtrain:error`. */
export interface ErrorPayload {
  code: ErrorCode;
  message: string;
}

/** Ack result of a request. */
export type AckResult<T> = ({ ok: true } & T) | { ok: false; error: ErrorPayload };

/** worker -> coordinator: leaving on purpose. */
export const LeaveSchema = z.object({ reason: z.string().max(256).default('leave') });
/** Leave message as a worker sends it. */
export type LeaveInput = z.input<typeof LeaveSchema>;

/** Ack of an accepted `grad:commit`. */
export interface CommitAccepted {
  accepted: true;
}

/** Ack of a recorded `worker:leave`. */
export interface LeaveRecorded {
  left: true;
}

/**
 * Events the coordinator emits to workers, with the payload types the coordinator sends. A worker
 * still validates each payload with its schema: these types say what a well-behaved peer sends.
 */
export interface ServerToClientEvents {
  'run:assign': (msg: RunAssign, ack: (res: AckResult<RunReady>) => void) => void;
  'params:chunk': (msg: ParamsChunk) => void;
  'step:assign': (msg: StepAssign) => void;
  'run:end': (msg: RunEnd) => void;
  'run:release': (msg: RunRelease) => void;
  'crowdtrain:error': (err: ErrorPayload) => void;
}

/**
 * Events workers emit to the coordinator, with the payloads a well-behaved worker sends (the
 * schemas' input types). Workers are typed by this map; the coordinator uses the untrusted view
 * {@link ClientToServerEvents} derived from it.
 */
export interface TypedClientToServerEvents {
  'worker:hello': (msg: Hello, ack: (res: AckResult<Welcome>) => void) => void;
  'grad:chunk': (msg: GradChunk) => void;
  'grad:commit': (msg: GradCommitInput, ack: (res: AckResult<CommitAccepted>) => void) => void;
  'step:decline': (msg: StepDeclineInput) => void;
  /** Leaving on purpose; the optional ack confirms the leave was recorded (send it before disconnecting). */
  'worker:leave': (msg: LeaveInput, ack?: (res: AckResult<LeaveRecorded>) => void) => void;
}

/** A listener with its first (payload) parameter replaced by `unknown`; the ack parameters are kept. */
export type UntrustedListener<F> = F extends (msg: never, ...rest: infer Rest) => void ? (msg: unknown, ...rest: Rest) => void : never;

/**
 * The coordinator's view of {@link TypedClientToServerEvents}: the same events and acks, payloads
 * `unknown` on purpose (anyone with the token can send anything; the coordinator validates with zod).
 */
export type ClientToServerEvents = { [E in keyof TypedClientToServerEvents]: UntrustedListener<TypedClientToServerEvents[E]> };

/** Inter-server events (none yet). */
export type InterServerEvents = Record<string, never>;

/** Per-socket data kept by the coordinator. */
export interface SocketData {
  workerId?: string;
}

/** Formats a zod error into one line naming every offending field. */
export function describeZodError(err: z.ZodError): string {
  return err.issues
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}
