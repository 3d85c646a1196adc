/**
 * Token buckets: the rate limits of the worker protocol (per socket and per inbound message kind)
 * and the tracking of a socket that stays over budget.
 */

/** A clock in milliseconds (performance.now by default; tests pass their own). */
export type Clock = () => number;

/** Capacity (the burst) and refill rate of one bucket. */
export interface BucketSpec {
  /** Tokens the bucket holds when full: the largest burst. */
  capacity: number;
  /** Tokens added per second. */
  refillPerSec: number;
}

/**
 * A token bucket: starts full, refills continuously at `refillPerSec` up to `capacity`; `take(n)`
 * spends n tokens if that many are there (and reports whether it did).
 * @example const b = new TokenBucket({ capacity: 10, refillPerSec: 5 }); if (!b.take()) drop();
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly spec: BucketSpec,
    private readonly clock: Clock = () => performance.now(),
  ) {
    if (!(spec.capacity > 0) || !(spec.refillPerSec >= 0)) throw new RangeError(`invalid bucket ${JSON.stringify(spec)}`);
    this.tokens = spec.capacity;
    this.last = clock();
  }

  /** Tokens available now. */
  get available(): number {
    this.refill();
    return this.tokens;
  }

  /** Spends `cost` tokens and returns true, or spends nothing and returns false when fewer are left. A cost above the capacity is charged as the capacity (it passes only with a full bucket). */
  take(cost = 1): boolean {
    this.refill();
    const c = Math.min(cost, this.spec.capacity);
    if (this.tokens < c) return false;
    this.tokens -= c;
    return true;
  }

  private refill(): void {
    const now = this.clock();
    const elapsed = Math.max(0, now - this.last) / 1000;
    this.last = now;
    this.tokens = Math.min(this.spec.capacity, this.tokens + elapsed * this.spec.refillPerSec);
  }
}

/** Inbound worker message kinds that are rate-limited. */
export type LimitedKind = 'worker:hello' | 'grad:chunk' | 'grad:commit' | 'step:decline' | 'worker:leave';

/**
 * Per-socket budgets of each inbound message kind. `grad:chunk` is size-aware: a chunk costs its
 * byte length plus {@link CHUNK_MESSAGE_FLOOR_BYTES} (so tiny chunks are not free); the budget is
 * 256 MB of burst and 128 MB/s sustained, about 128 full 1 MB chunks per second, far above what a
 * worker computing real gradients sends. Commits: one per step, and a fast run makes ~100 steps/s,
 * so 400 burst and 200/s. Declines: a worker declines at most once per step; 20 burst, 10/s.
 */
export const MESSAGE_BUDGETS: Readonly<Record<LimitedKind, BucketSpec>> = {
  'worker:hello': { capacity: 5, refillPerSec: 1 },
  'grad:chunk': { capacity: 256 * 1024 * 1024, refillPerSec: 128 * 1024 * 1024 },
  'grad:commit': { capacity: 400, refillPerSec: 200 },
  'step:decline': { capacity: 20, refillPerSec: 10 },
  'worker:leave': { capacity: 3, refillPerSec: 0.5 },
};

/** Bytes a grad:chunk is charged on top of its payload. */
export const CHUNK_MESSAGE_FLOOR_BYTES = 4096;

/**
 * Dropped messages a socket may accumulate before it is disconnected: each drop costs one token
 * of a bucket of 200 refilled at 20/s, so a socket over budget for about a tenth of a second at a
 * flood's rate, or persistently over by more than 20 messages/s, is cut off.
 */
export const OVER_BUDGET_ALLOWANCE: BucketSpec = { capacity: 200, refillPerSec: 20 };

/** The `crowdtrain:error` notices a socket gets about its dropped messages: 5 burst, one per second. */
export const DROP_NOTICE_BUDGET: BucketSpec = { capacity: 5, refillPerSec: 1 };

/** What {@link SocketRateLimiter.admit} decided about one message. */
export type Admission = { ok: true } | { ok: false; notify: boolean; disconnect: boolean };

/**
 * The rate limits of one socket: a bucket per message kind, a bucket of tolerated drops (exhausted:
 * disconnect the socket) and a bucket of drop notices (so the notices cannot be a flood themselves).
 */
export class SocketRateLimiter {
  private readonly buckets = new Map<LimitedKind, TokenBucket>();
  private readonly overBudget: TokenBucket;
  private readonly notices: TokenBucket;
  /** Messages dropped so far. */
  dropped = 0;

  constructor(
    private readonly budgets: Readonly<Record<LimitedKind, BucketSpec>> = MESSAGE_BUDGETS,
    private readonly clock: Clock = () => performance.now(),
  ) {
    this.overBudget = new TokenBucket(OVER_BUDGET_ALLOWANCE, clock);
    this.notices = new TokenBucket(DROP_NOTICE_BUDGET, clock);
  }

  /** Charges one message of `kind` (cost: 1, or its bytes for a grad:chunk) and says whether it may be handled. */
  admit(kind: LimitedKind, cost = 1): Admission {
    let b = this.buckets.get(kind);
    if (!b) {
      b = new TokenBucket(this.budgets[kind], this.clock);
      this.buckets.set(kind, b);
    }
    if (b.take(cost)) return { ok: true };
    this.dropped += 1;
    return { ok: false, notify: this.notices.take(), disconnect: !this.overBudget.take() };
  }
}

/** The cost of a grad:chunk payload under the size-aware budget: its bytes plus the per-message floor. */
export function chunkCost(raw: unknown): number {
  const bytes = (raw as { bytes?: unknown } | null)?.bytes;
  const n = bytes instanceof Uint8Array || bytes instanceof ArrayBuffer ? bytes.byteLength : 0;
  return n + CHUNK_MESSAGE_FLOOR_BYTES;
}
