import type { ShardDrop, ShardLoad, ShardLoaded, ShardStateReply, ShardStateRequest, ShardStep, ShardStepped } from './shard-protocol.ts';

/**
 * The shard owners a coordinator reaches, as `mode: sharded` sees them (coordinator/shard/
 * shard-owner-pool.ts implements it over Socket.io). Every request resolves with the owner's
 * validated answer or rejects with a CrowdtrainError that says what went wrong: the owner's own
 * error, its disconnect, or no answer in time.
 */
export interface ShardOwners {
  /** Ids of the connected owners, sorted (the order shard plans use). */
  live(): string[];
  /** Resolves with the live owners once at least `count` are connected; rejects after `timeoutMs` saying how many there are. */
  waitFor(count: number, timeoutMs: number): Promise<string[]>;
  load(ownerId: string, msg: ShardLoad): Promise<ShardLoaded>;
  step(ownerId: string, msg: ShardStep): Promise<ShardStepped>;
  state(ownerId: string, msg: ShardStateRequest): Promise<ShardStateReply>;
  /** Fire and forget: the owner forgets ranges (nothing to wait for when it is gone). */
  drop(ownerId: string, msg: ShardDrop): void;
  /** The owner's name (as it said hello), for Events and the dashboard. */
  nameOf(ownerId: string): string | null;
}
