import type { ErrorPayload, Hello } from '../protocol/messages.ts';
import { WorkerSession, type WorkerSessionOptions } from './worker-session.ts';
import { COMMIT_TIMEOUT_MS, socketTransport, type WorkerSocketLike } from './socket-transport.ts';
import type { WorkerTransport } from './worker-transport.ts';

/** Handshake refusals that retrying cannot fix: the connection closes and reports them. */
export const FATAL_HANDSHAKE_CODES = ['BAD_TOKEN', 'PROTOCOL_MISMATCH', 'INVALID_MESSAGE'] as const;
/** A handshake refusal that closes the connection. */
export type FatalHandshakeCode = (typeof FATAL_HANDSHAKE_CODES)[number];

/** What happened to a worker's connection, as its shell (CLI, tab, test) reports it. */
export type WorkerConnectionEvent =
  /** The coordinator accepted the hello; `rejoined` when it was sent with a remembered workerId. */
  | { type: 'joined'; workerId: string; rejoined: boolean }
  /** The coordinator answered the hello with an error (the socket stays open). */
  | { type: 'join-refused'; error: ErrorPayload }
  /** The hello got no answer in time (or the connection dropped before it). */
  | { type: 'hello-failed'; message: string }
  /** A connection attempt failed; socket.io retries with backoff. `attempts` counts failures since the last join. */
  | { type: 'unreachable'; message: string; attempts: number }
  /** The handshake was refused for good (wrong token, protocol version, malformed auth); the socket is closed. */
  | { type: 'handshake-refused'; code: FatalHandshakeCode; message: string }
  /**
   * The connection dropped. `intentional` after leave()/close(); `reconnecting` when socket.io
   * reconnects by itself (false after the coordinator disconnected this worker on purpose).
   */
  | { type: 'disconnected'; reason: string; reconnecting: boolean; intentional: boolean }
  /** The coordinator sent a typed error (invalid message, eviction). */
  | { type: 'coordinator-error'; error: ErrorPayload };

/** How a worker shell sets up its connection. */
export interface WorkerConnectionOptions {
  /** The worker socket, created by the shell with `io(url, workerSocketOptions(token))` and not yet connected. */
  socket: WorkerSocketLike;
  /** The hello to introduce this worker with, built at every (re)connect; the connection adds the remembered workerId. */
  hello(): Omit<Hello, 'workerId'>;
  /** A worker id to rejoin as from the first connect on (else the coordinator assigns one). */
  workerId?: string;
  /** The worker loop's services and hooks (its transport is this connection's socket transport). */
  session: Omit<WorkerSessionOptions, 'transport'>;
  /** Reports every lifecycle event. */
  onEvent?(event: WorkerConnectionEvent): void;
  /** How long to wait for the hello's ack (30 s). */
  helloTimeoutMs?: number;
  /** How long to wait for a grad:commit's ack (COMMIT_TIMEOUT_MS). */
  commitTimeoutMs?: number;
  /** How long leave() waits for the coordinator to record the leave (2 s). */
  leaveTimeoutMs?: number;
  /** Wraps the socket transport before the worker loop gets it (tests that tamper with the wire). */
  wrapTransport?(transport: WorkerTransport): WorkerTransport;
}

const HELLO_TIMEOUT_MS = 30_000;
const LEAVE_TIMEOUT_MS = 2_000;

function isFatalHandshakeCode(code: unknown): code is FatalHandshakeCode {
  return typeof code === 'string' && (FATAL_HANDSHAKE_CODES as readonly string[]).includes(code);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The one connection lifecycle of every worker (node process, browser tab, test worker): connect,
 * say `worker:hello` (with the workerId remembered from an earlier join, so a reconnect is a
 * rejoin), serve runs through a WorkerSession, reconnect with backoff when the connection drops,
 * close on a fatal handshake refusal, and leave on purpose.
 * @example
 * const conn = new WorkerConnection({ socket: io(url, workerSocketOptions(token)), hello: () => ({ kind: 'node', backend: 'cpu' }), session: { loadTrainSet } });
 * conn.start();
 */
export class WorkerConnection {
  /** The worker loop serving this connection's runs. */
  readonly session: WorkerSession;
  private readonly socket: WorkerSocketLike;
  private id: string | undefined;
  private failedAttempts = 0;
  private leaving = false;
  private closed = false;

  constructor(private readonly opts: WorkerConnectionOptions) {
    const socket = opts.socket;
    this.socket = socket;
    this.id = opts.workerId;
    const transport = socketTransport(socket, opts.commitTimeoutMs ?? COMMIT_TIMEOUT_MS);
    this.session = new WorkerSession({ ...opts.session, transport: opts.wrapTransport ? opts.wrapTransport(transport) : transport });
    socket.on('connect', () => void this.hello());
    socket.on('connect_error', (err) => this.onConnectError(err));
    socket.on('disconnect', (reason) => {
      this.emit({ type: 'disconnected', reason, reconnecting: socket.active, intentional: this.leaving || this.closed });
    });
    socket.on('crowdtrain:error', (error) => this.emit({ type: 'coordinator-error', error }));
  }

  /** The id the coordinator gave this worker (kept across reconnects), or undefined before the first join. */
  get workerId(): string | undefined {
    return this.id;
  }

  /** Whether the socket is connected now. */
  get connected(): boolean {
    return this.socket.connected;
  }

  /** Opens the connection (the hello follows on connect). */
  start(): void {
    if (this.closed) return;
    this.socket.connect();
  }

  /**
   * Leaves on purpose: sends `worker:leave` and waits (up to leaveTimeoutMs) for the coordinator to
   * record it, then disconnects; the coordinator reassigns this worker's slice. resume() rejoins.
   */
  async leave(reason: string): Promise<void> {
    this.leaving = true;
    const socket = this.socket;
    if (socket.connected) {
      try {
        await socket.timeout(this.opts.leaveTimeoutMs ?? LEAVE_TIMEOUT_MS).emitWithAck('worker:leave', { reason });
      } catch {
        // no ack in time: disconnecting is a leave too
      }
    }
    if (this.leaving) socket.disconnect();
  }

  /** Reconnects after leave(); the hello carries the remembered workerId, so the coordinator sees a rejoin. */
  resume(): void {
    if (this.closed) return;
    this.leaving = false;
    this.socket.connect();
  }

  /**
   * Ends the connection for good: stops reconnecting, frees the worker loop's tensors, sends
   * `worker:leave` if connected (so the coordinator records the reason) and disconnects once the
   * coordinator acknowledged it (or after leaveTimeoutMs). Disconnecting right after the emit
   * would race the leave: socket.io drops an event that the server reads together with the
   * disconnect. A page that unloads before the ack still gets its leave recorded: the socket dies
   * after the leave went out. Resolves once disconnected.
   */
  async close(reason = 'leave'): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.socket.io.reconnection(false);
    this.session.dispose();
    if (this.socket.connected) {
      try {
        await this.socket.timeout(this.opts.leaveTimeoutMs ?? LEAVE_TIMEOUT_MS).emitWithAck('worker:leave', { reason });
      } catch {
        // no ack in time: disconnecting is a leave too
      }
    }
    this.socket.disconnect();
    // A run assigned while the leave was on its way is freed too.
    this.session.dispose();
  }

  private closeSocket(): void {
    this.socket.io.reconnection(false);
    this.socket.disconnect();
  }

  private async hello(): Promise<void> {
    if (this.closed) return;
    const rejoin = this.id;
    try {
      const res = await this.socket
        .timeout(this.opts.helloTimeoutMs ?? HELLO_TIMEOUT_MS)
        .emitWithAck('worker:hello', { ...this.opts.hello(), workerId: rejoin });
      if (!res.ok) {
        this.emit({ type: 'join-refused', error: res.error });
        return;
      }
      this.id = res.workerId;
      this.failedAttempts = 0;
      this.emit({ type: 'joined', workerId: res.workerId, rejoined: rejoin !== undefined });
    } catch (err) {
      this.emit({ type: 'hello-failed', message: `hello failed: ${messageOf(err)}` });
    }
  }

  private onConnectError(err: Error): void {
    const code = (err as Error & { data?: { code?: unknown } }).data?.code;
    if (isFatalHandshakeCode(code)) {
      this.closeSocket();
      this.emit({ type: 'handshake-refused', code, message: err.message });
      return;
    }
    this.failedAttempts += 1;
    this.emit({ type: 'unreachable', message: err.message, attempts: this.failedAttempts });
  }

  private emit(event: WorkerConnectionEvent): void {
    this.opts.onEvent?.(event);
  }
}
