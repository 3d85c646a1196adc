import type { ServerToClientEvents, TypedClientToServerEvents } from '../protocol/messages.ts';
import { PROTOCOL_VERSION } from '../protocol/version.ts';
import type { EventAck, EventPayload, WorkerTransport } from './worker-transport.ts';

type C = TypedClientToServerEvents;

/** Emits a worker event and resolves with the coordinator's ack (one overload per acknowledged event). */
export interface WorkerAckEmitter {
  emitWithAck(event: 'worker:hello', msg: EventPayload<C['worker:hello']>): Promise<EventAck<C['worker:hello']>>;
  emitWithAck(event: 'grad:commit', msg: EventPayload<C['grad:commit']>): Promise<EventAck<C['grad:commit']>>;
  emitWithAck(event: 'worker:leave', msg: EventPayload<C['worker:leave']>): Promise<EventAck<C['worker:leave']>>;
}

/**
 * The part of a socket.io-client socket the worker side uses, typed from the protocol's event
 * maps. socket.io-client's `Socket<ServerToClientEvents, TypedClientToServerEvents>` satisfies it;
 * core never imports socket.io-client (each shell creates the socket with `io(url, workerSocketOptions(token))`).
 */
export interface WorkerSocketLike {
  readonly id: string | undefined;
  readonly connected: boolean;
  /** False once the socket will not reconnect by itself (closed here, or disconnected by the coordinator). */
  readonly active: boolean;
  /** Packets emitted while disconnected, flushed on reconnect. */
  sendBuffer: unknown[];
  /** The socket's manager; reconnection(false) stops the backoff loop. */
  readonly io: { reconnection(enabled: boolean): unknown };
  on(event: 'connect', listener: () => void): unknown;
  on(event: 'connect_error', listener: (err: Error) => void): unknown;
  on(event: 'disconnect', listener: (reason: string) => void): unknown;
  on<E extends keyof ServerToClientEvents>(event: E, listener: ServerToClientEvents[E]): unknown;
  emit<E extends keyof C>(event: E, ...args: Parameters<C[E]>): unknown;
  /** The socket with an ack deadline: emitWithAck rejects when no ack comes within `ms`. */
  timeout(ms: number): WorkerAckEmitter;
  connect(): unknown;
  disconnect(): unknown;
}

/** The io() options of every worker socket: the join token and protocol version in the handshake (and in the engine.io query). */
export interface WorkerSocketOptions {
  auth: { token: string; protocolVersion: number };
  /** The token and version again in the engine.io query: the coordinator checks them before the connection is upgraded (the auth above arrives only after). */
  query: { token: string; protocolVersion: string };
  transports: 'websocket'[];
  autoConnect: false;
  reconnection: true;
  reconnectionDelay: number;
  reconnectionDelayMax: number;
  randomizationFactor: number;
}

/**
 * Options for socket.io-client's `io(url, …)` that every worker shell uses: websocket only,
 * reconnect with backoff (0.5 s doubling to 10 s, ±50% jitter), and no connection until
 * WorkerConnection.start() (so every listener is attached first).
 * @example const socket: WorkerSocket = io(url, workerSocketOptions(token));
 */
export function workerSocketOptions(token: string): WorkerSocketOptions {
  return {
    auth: { token, protocolVersion: PROTOCOL_VERSION },
    query: { token, protocolVersion: String(PROTOCOL_VERSION) },
    transports: ['websocket'],
    autoConnect: false,
    reconnection: true,
    reconnectionDelay: 500,
    reconnectionDelayMax: 10_000,
    randomizationFactor: 0.5,
  };
}

/** How long a worker waits for the coordinator's ack of a grad:commit. */
export const COMMIT_TIMEOUT_MS = 120_000;

/**
 * Adapts a worker socket to the transport the shared worker loop uses. A disconnect clears the
 * socket's send buffer: results only answer the connection whose assignment they were computed
 * for (the coordinator reassigns a disconnected worker's slice), so they must never be flushed
 * after a reconnect, before the new hello.
 */
export function socketTransport(socket: WorkerSocketLike, commitTimeoutMs = COMMIT_TIMEOUT_MS): WorkerTransport {
  socket.on('disconnect', () => {
    socket.sendBuffer.length = 0;
  });
  return {
    onRunAssign: (handler) =>
      socket.on('run:assign', (msg, ack) => {
        void handler(msg).then((res) => {
          if (typeof ack === 'function') ack(res);
        });
      }),
    onParamsChunk: (handler) => socket.on('params:chunk', handler),
    onStepAssign: (handler) => socket.on('step:assign', handler),
    onRunEnd: (handler) => socket.on('run:end', handler),
    onRunRelease: (handler) => socket.on('run:release', handler),
    declineStep: (msg) => {
      if (socket.connected) socket.emit('step:decline', msg);
    },
    sendGradChunk: (msg) => {
      if (socket.connected) socket.emit('grad:chunk', msg);
    },
    commitGradient: async (msg) => {
      if (!socket.connected) {
        return { ok: false, error: { code: 'NOT_ASSIGNED', message: `disconnected before step ${msg.step} was committed; the coordinator reassigns the slice` } };
      }
      try {
        return await socket.timeout(commitTimeoutMs).emitWithAck('grad:commit', msg);
      } catch (err) {
        return { ok: false, error: { code: 'INTERNAL', message: `no ack for grad:commit: ${err instanceof Error ? err.message : String(err)}` } };
      }
    },
  };
}
