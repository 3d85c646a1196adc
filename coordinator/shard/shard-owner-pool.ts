import { randomUUID } from 'node:crypto';
import createDebug from 'debug';
import type { Namespace, Socket } from 'socket.io';
import type { z } from 'zod';
import { CrowdtrainError, ErrorCode } from '../../core/protocol/errors.ts';
import { describeZodError, type AckResult } from '../../core/protocol/messages.ts';
import type { ShardOwners } from '../../core/shard/shard-owners.ts';
import {
  OwnerHelloSchema,
  ShardLoadedSchema,
  ShardStateSchema,
  ShardSteppedSchema,
  type ShardDrop,
  type ShardLoad,
  type ShardLoaded,
  type ShardStateReply,
  type ShardStateRequest,
  type ShardStep,
  type ShardStepped,
} from '../../core/shard/shard-protocol.ts';

const debug = createDebug('crowdtrain:shard');

/** Messages an owner may send besides acks: its hello, at most this many times per connection. */
const MAX_HELLOS = 3;

/** A connected owner. */
interface Owner {
  id: string;
  name: string;
  socket: Socket;
  /** Requests in flight, rejected at once when the owner disconnects. */
  pending: Set<(err: Error) => void>;
}

/** What the pool needs from the coordinator's Socket.io server. */
export interface ShardOwnerPoolOptions {
  /** The `/shard` namespace, its handshake already checked (the worker join token). */
  namespace: Namespace;
  /** The owner's engine connection passed its hello: binary payloads (its acks) may flow. */
  onJoined(conn: object): void;
  /** How long one request may wait for its ack (the sharded run's `owner_timeout` bounds it too). */
  requestTimeoutMs?: number;
}

/**
 * The shard owners connected to this coordinator (`npm run shard-server`, or node workers started
 * with `--shard-owner`) on the `/shard` namespace: their hellos, the requests `mode: sharded`
 * makes of them (core/shard/shard-owners.ts) with every answer validated, and their departures
 * (every request in flight to an owner that disconnects is rejected at once, saying so).
 */
export class ShardOwnerPool implements ShardOwners {
  private readonly owners = new Map<string, Owner>();
  private readonly waiters = new Set<() => void>();
  private readonly requestTimeoutMs: number;

  constructor(private readonly opts: ShardOwnerPoolOptions) {
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    opts.namespace.on('connection', (socket) => this.onConnection(socket));
  }

  live(): string[] {
    return [...this.owners.keys()].sort();
  }

  nameOf(ownerId: string): string | null {
    return this.owners.get(ownerId)?.name ?? null;
  }

  /** Connected owners with their names, for the status API and the dashboard. */
  list(): { id: string; name: string }[] {
    return this.live().map((id) => ({ id, name: this.owners.get(id)!.name }));
  }

  waitFor(count: number, timeoutMs: number): Promise<string[]> {
    if (this.owners.size >= count) return Promise.resolve(this.live());
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.owners.size < count) return;
        cleanup();
        resolve(this.live());
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new CrowdtrainError(
            'NO_ACTIVE_RUN',
            `mode sharded needs ${count} shard owner${count === 1 ? '' : 's'} (sharded.min_owners); ${this.owners.size} connected after ${Math.round(timeoutMs / 1000)} s: ` +
              'start `npm run shard-server -- --url URL --token TOKEN` or a worker with --shard-owner',
          ),
        );
      }, timeoutMs);
      timer.unref();
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  load(ownerId: string, msg: ShardLoad): Promise<ShardLoaded> {
    return this.request(ownerId, 'shard:load', msg, ShardLoadedSchema);
  }

  step(ownerId: string, msg: ShardStep): Promise<ShardStepped> {
    return this.request(ownerId, 'shard:step', msg, ShardSteppedSchema);
  }

  state(ownerId: string, msg: ShardStateRequest): Promise<ShardStateReply> {
    return this.request(ownerId, 'shard:state', msg, ShardStateSchema);
  }

  drop(ownerId: string, msg: ShardDrop): void {
    this.owners.get(ownerId)?.socket.emit('shard:drop', msg);
  }

  /** Disconnects every owner. */
  close(): void {
    for (const o of this.owners.values()) o.socket.disconnect(true);
  }

  private request<S extends z.ZodType<{ ok: true }>>(ownerId: string, event: string, msg: unknown, schema: S): Promise<Omit<z.infer<S>, 'ok'>> {
    const owner = this.owners.get(ownerId);
    if (!owner) return Promise.reject(new CrowdtrainError('NOT_ASSIGNED', `shard owner ${ownerId} is not connected`));
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        owner.pending.delete(fail);
        reject(err);
      };
      const timer = setTimeout(() => fail(new CrowdtrainError('INTERNAL', `shard owner ${owner.name} did not answer ${event} within ${this.requestTimeoutMs} ms`)), this.requestTimeoutMs);
      timer.unref();
      owner.pending.add(fail);
      owner.socket.emit(event, msg, (raw: unknown) => {
        if (settled) return;
        const res = raw as AckResult<unknown> | null;
        if (res !== null && typeof res === 'object' && res.ok === false) {
          const e = (res as { error?: { code?: unknown; message?: unknown } }).error;
          const code = typeof e?.code === 'string' && e.code in ErrorCode ? (e.code as ErrorCode) : 'INTERNAL';
          return fail(new CrowdtrainError(code, `shard owner ${owner.name} refused ${event}: ${(typeof e?.message === 'string' ? e.message : 'no reason given').slice(0, 512)}`));
        }
        const parsed = schema.safeParse(raw);
        if (!parsed.success) return fail(new CrowdtrainError('INVALID_MESSAGE', `shard owner ${owner.name} answered ${event} with an invalid ack: ${describeZodError(parsed.error)}`));
        settled = true;
        clearTimeout(timer);
        owner.pending.delete(fail);
        const { ok: _ok, ...rest } = parsed.data as { ok: true } & Record<string, unknown>;
        resolve(rest as Omit<z.infer<S>, 'ok'>);
      });
    });
  }

  private onConnection(socket: Socket): void {
    let hellos = 0;
    let ownerId: string | null = null;
    const helloTimer = setTimeout(() => {
      if (ownerId === null) socket.disconnect(true);
    }, 30_000);
    helloTimer.unref();
    // An owner sends nothing but its hello (and acks, which are not events).
    socket.onAny((event: string) => {
      if (event !== 'owner:hello') {
        debug('disconnecting shard owner socket %s: unexpected event %s', socket.id, event);
        socket.disconnect(true);
      }
    });
    socket.on('owner:hello', (raw: unknown, ack: unknown) => {
      hellos += 1;
      if (typeof ack !== 'function' || hellos > MAX_HELLOS) {
        socket.disconnect(true);
        return;
      }
      const reply = ack as (res: AckResult<{ ownerId: string }>) => void;
      if (ownerId !== null) return reply({ ok: true, ownerId });
      const parsed = OwnerHelloSchema.safeParse(raw);
      if (!parsed.success) return reply({ ok: false, error: { code: ErrorCode.INVALID_MESSAGE, message: `owner:hello: ${describeZodError(parsed.error)}` } });
      let id = parsed.data.ownerId ?? `o-${randomUUID().slice(0, 8)}`;
      // A reconnecting owner whose old socket is still here takes over; an id in use by another live owner is not given twice.
      const previous = this.owners.get(id);
      if (previous) {
        if (previous.name === (parsed.data.name ?? id)) this.remove(previous, 'replaced by a reconnect');
        else id = `o-${randomUUID().slice(0, 8)}`;
      }
      ownerId = id;
      const owner: Owner = { id, name: parsed.data.name ?? id, socket, pending: new Set() };
      this.owners.set(id, owner);
      this.opts.onJoined(socket.conn);
      debug('shard owner %s (%s) joined', id, owner.name);
      reply({ ok: true, ownerId: id });
      for (const w of [...this.waiters]) w();
    });
    socket.on('disconnect', (reason) => {
      clearTimeout(helloTimer);
      const owner = ownerId === null ? undefined : this.owners.get(ownerId);
      if (owner && owner.socket === socket) this.remove(owner, reason);
    });
  }

  private remove(owner: Owner, reason: string): void {
    this.owners.delete(owner.id);
    debug('shard owner %s left: %s', owner.id, reason);
    for (const fail of [...owner.pending]) fail(new CrowdtrainError('INTERNAL', `shard owner ${owner.name} disconnected (${reason})`));
    if (owner.socket.connected) owner.socket.disconnect(true);
  }
}
