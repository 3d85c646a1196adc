import { z } from 'zod';
import { CrowdtrainError, ErrorCode, toWireError, type WireError } from '../protocol/errors.ts';
import { describeZodError, type AckResult } from '../protocol/messages.ts';
import { workerSocketOptions, type WorkerSocketOptions } from '../worker/socket-transport.ts';
import { RangeHolder } from './range-holder.ts';
import {
  SHARD_NAMESPACE,
  ShardDropSchema,
  ShardLoadSchema,
  ShardStateRequestSchema,
  ShardStepSchema,
  bytesOf,
  type OwnerHello,
  type ShardLoaded,
  type ShardStateReply,
  type ShardStepped,
} from './shard-protocol.ts';

/** How long an owner waits for the coordinator's ack of `owner:hello`. */
export const OWNER_HELLO_TIMEOUT_MS = 30_000;

/** The io() options of a shard owner's socket: the worker handshake, on a connection of its own. */
export type ShardSocketOptions = WorkerSocketOptions & {
  /** A connection of its own, so that a worker in the same process closing its socket never closes this one. */
  forceNew: true;
};

/**
 * The part of a socket.io-client socket a shard owner uses. Payloads and ack callbacks are
 * `unknown`: the owner validates everything the coordinator sends.
 */
export interface ShardOwnerSocketLike {
  readonly connected: boolean;
  /** The socket's manager; reconnection(false) stops the backoff loop. */
  readonly io: { reconnection(enabled: boolean): unknown };
  on(event: 'connect', listener: () => void): unknown;
  on(event: 'connect_error', listener: (err: Error) => void): unknown;
  on(event: 'disconnect', listener: (reason: string) => void): unknown;
  on(event: 'shard:load' | 'shard:step' | 'shard:state' | 'shard:drop', listener: (msg: unknown, ack: unknown) => void): unknown;
  /** The socket with an ack deadline: emitWithAck rejects when no ack comes within `ms`. */
  timeout(ms: number): { emitWithAck(event: 'owner:hello', msg: OwnerHello): Promise<unknown> };
  connect(): unknown;
  disconnect(): unknown;
}

/**
 * Creates the owner's socket, not yet connected: socket.io-client's `io` fits
 * (core is transport-free, so the Node or browser shell passes it in).
 */
export type ShardSocketFactory = (url: string, options: ShardSocketOptions) => ShardOwnerSocketLike;

/** Options of {@link startShardOwner}. */
export interface ShardOwnerOptions {
  /** Coordinator origin, e.g. http://127.0.0.1:3000 (the `/shard` namespace is appended). */
  url: string;
  /** Worker join token. */
  token: string;
  /** socket.io-client's `io`, or any factory of a compatible socket. */
  connect: ShardSocketFactory;
  /** Name shown by the coordinator. */
  name?: string;
  /** Id of an earlier owner session to resume. */
  ownerId?: string;
  /** Receives one line per notable event (range loads and drops, disconnects, refusals). */
  onLog?: (line: string) => void;
  /** Deadline for the ack of `owner:hello` (default {@link OWNER_HELLO_TIMEOUT_MS}). */
  helloTimeoutMs?: number;
}

/** A held range, as {@link ShardOwner.ranges} lists it. */
export interface HeldRange {
  runId: string;
  index: number;
  start: number;
  end: number;
}

/** A connected shard owner. */
export interface ShardOwner {
  /** The id the coordinator gave this owner (kept across reconnects). */
  readonly ownerId: string;
  /** Stops reconnecting, forgets every range and disconnects. */
  close(): Promise<void>;
  /** Total parameter values held, over all ranges. */
  heldValues(): number;
  /** Total bytes of the optimizer slots held, over all ranges. */
  optimizerBytes(): number;
  /** The ranges held now. */
  ranges(): HeldRange[];
}

const WelcomeAckSchema = z.union([
  z.object({ ok: z.literal(true), ownerId: z.string().min(1).max(128) }),
  z.object({ ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) }),
]);

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** An ack callback as the coordinator passed it; anything that is not a function becomes a no-op. */
function ackOf<T>(ack: unknown): (res: AckResult<T>) => void {
  if (typeof ack !== 'function') return () => {};
  return (res) => {
    try {
      (ack as (res: AckResult<T>) => void)(res);
    } catch {
      // a throwing ack is the transport's problem, not the range's
    }
  };
}

/** The ack's error code when it is one of ours, else INTERNAL. */
function wireCode(code: string): ErrorCode {
  return (Object.values(ErrorCode) as string[]).includes(code) ? (code as ErrorCode) : ErrorCode.INTERNAL;
}

function refuse(error: WireError): { ok: false; error: WireError } {
  return { ok: false, error };
}

function invalid(event: string, err: z.ZodError): { ok: false; error: WireError } {
  return refuse({ code: 'INVALID_MESSAGE', message: `invalid ${event}: ${describeZodError(err)}` });
}

/**
 * Handshake refusals that retrying cannot fix: the worker connection's FATAL_HANDSHAKE_CODES,
 * repeated so that a shard server does not load the worker loop (models, tfjs) to read them.
 */
const FATAL_HANDSHAKE_CODES: readonly string[] = ['BAD_TOKEN', 'PROTOCOL_MISMATCH', 'INVALID_MESSAGE'];

const keyOf = (runId: string, index: number): string => `${runId}#${index}`;

/**
 * Connects a shard owner (`mode: sharded`) to a coordinator's {@link SHARD_NAMESPACE} namespace
 * with the worker handshake, says `owner:hello`, and then holds the ranges the coordinator loads:
 * it steps them with the reduced gradients it is sent (acking the new parameters), reports their
 * optimizer state, and drops them on request. Every payload is validated; failures are acked as
 * wire errors. On a disconnect every range is forgotten (the coordinator reloads them after the
 * reconnect, which socket.io does by itself; the hello then carries the same ownerId).
 * Resolves once the first hello is acknowledged; rejects with the connect error or the refusal.
 * @example
 * import { io } from 'socket.io-client';
 * const owner = await startShardOwner({ url: 'http://127.0.0.1:3000', token, connect: io });
 */
export function startShardOwner(opts: ShardOwnerOptions): Promise<ShardOwner> {
  const log = opts.onLog ?? (() => {});
  const holders = new Map<string, RangeHolder>();
  const socket = opts.connect(`${opts.url}${SHARD_NAMESPACE}`, { ...workerSocketOptions(opts.token), forceNew: true });
  let ownerId = opts.ownerId;
  let started = false;
  let closed = false;

  const dropAll = (why: string): void => {
    if (holders.size > 0) log(`dropped ${holders.size} range(s): ${why}`);
    holders.clear();
  };

  const stop = (): void => {
    closed = true;
    socket.io.reconnection(false);
    socket.disconnect();
    holders.clear();
  };

  const owner: ShardOwner = {
    get ownerId() {
      return ownerId ?? '';
    },
    close() {
      if (!closed) stop();
      return Promise.resolve();
    },
    heldValues: () => [...holders.values()].reduce((sum, h) => sum + h.size, 0),
    optimizerBytes: () => [...holders.values()].reduce((sum, h) => sum + h.optimizerBytes, 0),
    ranges: () => [...holders.values()].map((h) => ({ runId: h.runId, index: h.index, start: h.start, end: h.end })),
  };

  socket.on('shard:load', (msg, ack) => {
    const reply = ackOf<ShardLoaded>(ack);
    const parsed = ShardLoadSchema.safeParse(msg);
    if (!parsed.success) return reply(invalid('shard:load', parsed.error));
    const m = parsed.data;
    let holder: RangeHolder;
    try {
      holder = new RangeHolder(m);
    } catch (err) {
      return reply(refuse(toWireError(err)));
    }
    holders.set(keyOf(m.runId, m.index), holder);
    log(`loaded range ${m.index} [${m.start}, ${m.end}) of run ${m.runId} (${holder.state().name}, update ${holder.updates})`);
    reply({ ok: true, values: holder.size });
  });

  socket.on('shard:step', (msg, ack) => {
    const reply = ackOf<ShardStepped>(ack);
    const parsed = ShardStepSchema.safeParse(msg);
    if (!parsed.success) return reply(invalid('shard:step', parsed.error));
    const m = parsed.data;
    const holder = holders.get(keyOf(m.runId, m.index));
    if (!holder) return reply(refuse({ code: 'NOT_ASSIGNED', message: `range ${m.index} of run ${m.runId} is not held by this owner` }));
    try {
      // step() returns a fresh copy: the acked bytes never change after the ack.
      const params = holder.step(m);
      reply({ ok: true, updates: holder.updates, params: bytesOf(params) });
    } catch (err) {
      reply(refuse(toWireError(err)));
    }
  });

  socket.on('shard:state', (msg, ack) => {
    const reply = ackOf<ShardStateReply>(ack);
    const parsed = ShardStateRequestSchema.safeParse(msg);
    if (!parsed.success) return reply(invalid('shard:state', parsed.error));
    const m = parsed.data;
    const holder = holders.get(keyOf(m.runId, m.index));
    if (!holder) return reply(refuse({ code: 'NOT_ASSIGNED', message: `range ${m.index} of run ${m.runId} is not held by this owner` }));
    const state = holder.state();
    const slots: Record<string, Uint8Array> = {};
    for (const [name, values] of Object.entries(state.slots)) slots[name] = bytesOf(values);
    reply({ ok: true, name: state.name, updates: state.updates, slots });
  });

  socket.on('shard:drop', (msg) => {
    const parsed = ShardDropSchema.safeParse(msg);
    if (!parsed.success) {
      log(`ignored an invalid shard:drop: ${describeZodError(parsed.error)}`);
      return;
    }
    const { runId, index } = parsed.data;
    if (index !== undefined) {
      if (holders.delete(keyOf(runId, index))) log(`dropped range ${index} of run ${runId}`);
      return;
    }
    let dropped = 0;
    for (const [key, holder] of holders) {
      if (holder.runId === runId) {
        holders.delete(key);
        dropped += 1;
      }
    }
    if (dropped > 0) log(`dropped ${dropped} range(s) of run ${runId}`);
  });

  socket.on('disconnect', (reason) => {
    dropAll(`disconnected (${reason})`);
    if (!closed) log(`disconnected (${reason}); reconnecting`);
  });

  return new Promise<ShardOwner>((resolve, reject) => {
    const fail = (err: Error): void => {
      stop();
      reject(err);
    };

    socket.on('connect_error', (err) => {
      if (closed) return;
      if (!started) return fail(err);
      const code = (err as Error & { data?: { code?: unknown } }).data?.code;
      if (typeof code === 'string' && FATAL_HANDSHAKE_CODES.includes(code)) {
        log(`coordinator refused the connection (${code}): ${err.message}; stopping`);
        stop();
        return;
      }
      log(`coordinator unreachable (${err.message}); retrying`);
    });

    socket.on('connect', () => {
      if (closed) return;
      const hello: OwnerHello = { ...(opts.name !== undefined ? { name: opts.name } : {}), ...(ownerId !== undefined ? { ownerId } : {}) };
      socket
        .timeout(opts.helloTimeoutMs ?? OWNER_HELLO_TIMEOUT_MS)
        .emitWithAck('owner:hello', hello)
        .then((res) => {
          if (closed) return;
          const ack = WelcomeAckSchema.safeParse(res);
          let problem: CrowdtrainError | undefined;
          if (!ack.success) problem = new CrowdtrainError('INVALID_MESSAGE', `invalid owner:hello ack: ${describeZodError(ack.error)}`);
          else if (!ack.data.ok) problem = new CrowdtrainError(wireCode(ack.data.error.code), ack.data.error.message);
          else ownerId = ack.data.ownerId;
          if (problem !== undefined) {
            if (!started) return fail(problem);
            log(`owner:hello refused: ${problem.code}: ${problem.message}`);
            return;
          }
          if (!started) {
            started = true;
            resolve(owner);
          } else {
            log(`reconnected as ${ownerId}`);
          }
        })
        .catch((err: unknown) => {
          if (closed) return;
          if (!started) return fail(new CrowdtrainError('INTERNAL', `owner:hello failed: ${messageOf(err)}`, { cause: err }));
          log(`owner:hello failed: ${messageOf(err)}`);
        });
    });

    socket.connect();
  });
}
