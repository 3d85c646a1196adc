import type http from 'node:http';
import createDebug from 'debug';
import { PROTOCOL_VERSION } from '../../core/protocol/version.ts';
import { tokensMatch } from '../worker-token.ts';

const debug = createDebug('crowdtrain:fleet');

/** Concurrent worker connections from one remote address (a NAT with many volunteers shares one). */
export const MAX_CONNECTIONS_PER_ADDRESS = 64;
/** Concurrent worker connections in total. */
export const MAX_CONNECTIONS_TOTAL = 1024;
/**
 * Concurrent connections that did not show the join token in the engine.io query (workers older
 * than this check, or clients with a wrong token that should get the typed BAD_TOKEN refusal):
 * per address and in total. They are held to the pre-auth rules below until the handshake passes.
 */
export const MAX_UNVERIFIED_PER_ADDRESS = 8;
export const MAX_UNVERIFIED_TOTAL = 64;
/** Time a connection has to pass the socket.io handshake (socket.io's `connectTimeout`). */
export const PRE_AUTH_TIMEOUT_MS = 10_000;
/** Text packets a connection may send before its handshake passes (the CONNECT, and one retry). */
export const MAX_PRE_AUTH_PACKETS = 3;

/** Limits of a {@link ConnectionGuard}; tests lower them. */
export interface ConnectionLimits {
  perAddress: number;
  total: number;
  unverifiedPerAddress: number;
  unverifiedTotal: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  perAddress: MAX_CONNECTIONS_PER_ADDRESS,
  total: MAX_CONNECTIONS_TOTAL,
  unverifiedPerAddress: MAX_UNVERIFIED_PER_ADDRESS,
  unverifiedTotal: MAX_UNVERIFIED_TOTAL,
};

/** The part of an engine.io socket the guard uses. */
export interface EngineSocketLike {
  readonly request: http.IncomingMessage;
  prependListener(event: 'data', listener: (data: unknown) => void): unknown;
  once(event: 'close', listener: () => void): unknown;
  close(): unknown;
}

/**
 * Closes a connection that broke the pre-auth rules at once: the TCP socket is destroyed rather
 * than closed gracefully, since a websocket close handshake would keep reading (and buffering) the
 * frames the peer still has in flight.
 */
function cutOff(conn: EngineSocketLike): void {
  conn.close();
  conn.request.socket.destroy();
}

interface Reservation {
  address: string;
  verified: boolean;
  released: boolean;
  /** An engine connection took it over (released when that closes, not with the first TCP socket). */
  attached: boolean;
}

interface ConnState {
  verified: boolean;
  /** The socket.io handshake (io.use) passed. */
  authed: boolean;
  /** The worker:hello was accepted. */
  joined: boolean;
  packets: number;
}

/**
 * Guards the worker endpoint before anything is buffered: `allowRequest` (engine.io, before the
 * upgrade) enforces the connection caps and checks the token and protocol version the worker also
 * puts in the engine.io query; `attach` watches every engine connection's packets so that nothing
 * but the socket.io CONNECT arrives before the handshake passes and no binary frame arrives before
 * the worker:hello is accepted (socket.io buffers the attachments of a binary packet until they
 * complete: an unauthenticated one must never start).
 */
export class ConnectionGuard {
  private readonly perAddress = new Map<string, { all: number; unverified: number }>();
  private total = 0;
  private unverified = 0;
  private readonly reservations = new WeakMap<http.IncomingMessage, Reservation>();
  private readonly states = new WeakMap<object, ConnState>();

  constructor(
    private readonly token: string,
    private readonly limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS,
  ) {}

  /** engine.io `allowRequest`: refuses over the caps or with a wrong version/token in the query; otherwise reserves a slot, released when the connection closes. */
  allowRequest = (req: http.IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void): void => {
    const query = (req as http.IncomingMessage & { _query?: Record<string, string | undefined> })._query ?? {};
    const address = req.socket.remoteAddress ?? 'unknown';
    // Verified: the join token and this protocol version in the query. Anything else is let
    // through to the socket.io handshake (which answers with a typed BAD_TOKEN / PROTOCOL_MISMATCH)
    // under the tighter unverified caps and the pre-auth packet rules.
    const verified =
      typeof query.token === 'string' && tokensMatch(query.token, this.token) && (query.protocolVersion === undefined || query.protocolVersion === String(PROTOCOL_VERSION));
    const counts = this.perAddress.get(address) ?? { all: 0, unverified: 0 };
    const refuse = (why: string) => {
      debug('refused a connection from %s: %s', address, why);
      callback(why, false);
    };
    if (this.total >= this.limits.total) return refuse(`too many worker connections (limit ${this.limits.total})`);
    if (counts.all >= this.limits.perAddress) return refuse(`too many worker connections from ${address} (limit ${this.limits.perAddress})`);
    if (!verified) {
      if (this.unverified >= this.limits.unverifiedTotal) return refuse(`too many unauthenticated connections (limit ${this.limits.unverifiedTotal})`);
      if (counts.unverified >= this.limits.unverifiedPerAddress) return refuse(`too many unauthenticated connections from ${address} (limit ${this.limits.unverifiedPerAddress})`);
    }
    counts.all += 1;
    if (!verified) counts.unverified += 1;
    this.perAddress.set(address, counts);
    this.total += 1;
    if (!verified) this.unverified += 1;
    const r: Reservation = { address, verified, released: false, attached: false };
    this.reservations.set(req, r);
    // Released when the TCP connection ends (a websocket, or a handshake that never completed).
    req.socket.once('close', () => {
      if (!r.attached) this.release(r);
    });
    callback(null, true);
  };

  /** Watches one engine.io connection (call from `io.engine.on('connection')`). */
  attach(conn: EngineSocketLike): void {
    const r = this.reservations.get(conn.request);
    const state: ConnState = { verified: r?.verified ?? false, authed: false, joined: false, packets: 0 };
    this.states.set(conn, state);
    if (r && !r.released) {
      r.attached = true;
      conn.once('close', () => this.release(r));
    }
    conn.prependListener('data', (data) => {
      if (state.joined) return;
      if (typeof data !== 'string') {
        debug('closing a connection that sent binary data before its worker:hello');
        cutOff(conn);
        return;
      }
      if (state.authed) return;
      state.packets += 1;
      if (state.packets > MAX_PRE_AUTH_PACKETS || !data.startsWith('0')) {
        debug('closing a connection that sent a non-CONNECT packet before its handshake passed');
        cutOff(conn);
      }
    });
  }

  /** The socket.io handshake of this engine connection passed. */
  authenticated(conn: object): void {
    const s = this.states.get(conn);
    if (s) s.authed = true;
  }

  /** The worker on this engine connection has joined (its worker:hello was accepted): binary results may flow. */
  joined(conn: object): void {
    const s = this.states.get(conn);
    if (s) s.joined = true;
  }

  /** Live connections (for tests and status). */
  get connections(): { total: number; unverified: number } {
    return { total: this.total, unverified: this.unverified };
  }

  private release(r: Reservation): void {
    if (r.released) return;
    r.released = true;
    this.total -= 1;
    if (!r.verified) this.unverified -= 1;
    const counts = this.perAddress.get(r.address);
    if (!counts) return;
    counts.all -= 1;
    if (!r.verified) counts.unverified -= 1;
    if (counts.all <= 0) this.perAddress.delete(r.address);
  }
}
