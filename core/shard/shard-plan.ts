import { z } from 'zod';
import { CrowdtrainError } from '../protocol/errors.ts';
import { MAX_RANGE_VALUES } from './shard-protocol.ts';

/**
 * How a `mode: sharded` run splits its flat float32 parameter vector over shard owners: each
 * owner gets one contiguous region (balanced by size, optionally cut only at tensor boundaries),
 * each region is cut into ranges that fit one message, and each range lists the owners that keep
 * a copy of it. Also what happens to the plan when an owner leaves, and the check of a plan read
 * back from a checkpoint. Pure and deterministic: no I/O, no clock, no randomness.
 */

/** One range of the flat parameter vector: the half-open interval [start, end) and who holds it. */
export interface ShardRange {
  /** Position of the range in the plan (0-based, in vector order). */
  index: number;
  /** Index of the first value. */
  start: number;
  /** One past the last value. */
  end: number;
  /** The owner holding the range's master values and optimizer state (the primary). */
  owner: string;
  /** Other owners holding a copy, in the order they take over; never the owner, no repeats. */
  replicas: string[];
}

/** The ranges of a run's parameter vector: they tile [0, paramCount) in order. */
export interface ShardPlan {
  paramCount: number;
  /** Copies each range should have besides its owner (a range may have fewer after owners left). */
  replicas: number;
  ranges: ShardRange[];
}

/** How {@link planShards} cuts the vector. */
export interface ShardPlanOptions {
  /** Cut regions only at tensor (layout entry) boundaries, so a tensor stays on one owner. */
  layerAligned?: boolean | undefined;
  /** Other owners holding a copy of each range (default 0). */
  replicas?: number | undefined;
  /** Most values in one range (default {@link MAX_RANGE_VALUES}, one message). */
  maxRangeValues?: number | undefined;
}

/** The part of a parameter layout a plan needs: the total size and each tensor's place. */
export interface ShardLayout {
  totalSize: number;
  entries: readonly { offset: number; size: number }[];
}

/**
 * One change {@link reassignOwner} made to a range: `to` became its owner (`fromReplica: true`,
 * the promoted replica already holds the range's values and optimizer state) or a new replica
 * (`fromReplica: false`, it must be loaded). `from` is the lost owner whose place is filled.
 */
export interface ShardMove {
  index: number;
  from: string;
  to: string;
  fromReplica: boolean;
}

/** What {@link reassignOwner} returns. */
export interface Reassignment {
  plan: ShardPlan;
  moves: ShardMove[];
  /**
   * Ranges the lost owner held as primary with no live replica: their optimizer state is gone
   * (the caller rewinds to a checkpoint or fails the run). They are left unchanged in `plan`.
   */
  orphaned: number[];
  /** Ranges still short of the plan's replica count because too few live owners were left. */
  underReplicated: number[];
}

/**
 * Plans the ranges of a parameter vector over `owners` (ids, used in the order given: the caller
 * sorts them). Each owner gets one contiguous region, in owner order:
 * - not layer-aligned: region sizes differ by at most one value (the first regions are the larger);
 * - `layerAligned`: regions start and end on layout entry boundaries, chosen so that the largest
 *   region is as small as possible (exact), and among such cuts each boundary as close as it can
 *   be to the equal-size one.
 *
 * With fewer values (or, layer-aligned, fewer non-empty tensors) than owners, only the first k
 * owners get a region. Each region is cut into ranges of at most `maxRangeValues` values, as
 * equal as possible. Each range's replicas are the `replicas` owners after its owner in `owners`,
 * cyclically (owners without a region may be replicas).
 *
 * Throws INVALID_CONFIG for no owners, a repeated or empty owner id, a bad option, replicas that
 * need more owners than given, or an empty or inconsistent layout.
 * @example planShards({ totalSize: 10, entries: [] }, ['a', 'b', 'c']).ranges.map((r) => r.end - r.start) // [4, 3, 3]
 */
export function planShards(layout: ShardLayout, owners: readonly string[], options: ShardPlanOptions = {}): ShardPlan {
  const replicas = options.replicas ?? 0;
  const maxRangeValues = options.maxRangeValues ?? MAX_RANGE_VALUES;
  const paramCount = layout.totalSize;
  if (!Number.isSafeInteger(paramCount) || paramCount < 1) {
    throw new CrowdtrainError('INVALID_CONFIG', `a sharded run needs at least 1 parameter, the layout has ${paramCount}`);
  }
  checkOwners(owners);
  if (!Number.isSafeInteger(replicas) || replicas < 0) {
    throw new CrowdtrainError('INVALID_CONFIG', `replicas must be an integer >= 0, got ${replicas}`);
  }
  if (!Number.isSafeInteger(maxRangeValues) || maxRangeValues < 1) {
    throw new CrowdtrainError('INVALID_CONFIG', `maxRangeValues must be an integer >= 1, got ${maxRangeValues}`);
  }
  if (replicas >= owners.length) {
    throw new CrowdtrainError('INVALID_CONFIG', `replicas: ${replicas} needs at least ${replicas + 1} shard owners, ${owners.length} connected`);
  }

  const bounds = options.layerAligned === true ? alignedRegions(tensorBounds(layout), owners.length) : equalRegions(paramCount, owners.length);
  const ranges: ShardRange[] = [];
  for (let o = 0; o + 1 < bounds.length; o++) {
    const holders = Array.from({ length: replicas }, (_, i) => owners[(o + 1 + i) % owners.length]!);
    for (const [start, end] of splitEvenly(bounds[o]!, bounds[o + 1]!, maxRangeValues)) {
      ranges.push({ index: ranges.length, start, end, owner: owners[o]!, replicas: [...holders] });
    }
  }
  return { paramCount, replicas, ranges };
}

/**
 * The plan after owner `lost` is gone. Each range it owned is taken over by its first replica in
 * `live` (which keeps the range's other replicas); `lost` is dropped from every replica list.
 * Then each range with fewer replicas than `plan.replicas` gets new ones from `live` (never its
 * owner or a holder already), each time the live owner holding the fewest values (owned plus
 * replicated; ties: order in `live`), ranges in index order. Ranges `lost` owned with no live
 * replica are reported in `orphaned` and left as they were. Does not modify `plan`.
 * @example const { plan: next, orphaned } = reassignOwner(plan, 'owner-b', ['owner-a', 'owner-c']);
 */
export function reassignOwner(plan: ShardPlan, lost: string, live: readonly string[]): Reassignment {
  const candidates = [...new Set(live)].filter((o) => o !== lost);
  const liveSet = new Set(candidates);
  const moves: ShardMove[] = [];
  const orphaned: number[] = [];
  const ranges = plan.ranges.map((r): ShardRange => {
    if (r.owner !== lost) return { ...r, replicas: r.replicas.filter((h) => h !== lost) };
    const heir = r.replicas.find((h) => liveSet.has(h));
    if (heir === undefined) {
      orphaned.push(r.index);
      return { ...r, replicas: [...r.replicas] };
    }
    moves.push({ index: r.index, from: lost, to: heir, fromReplica: true });
    return { ...r, owner: heir, replicas: r.replicas.filter((h) => h !== heir && h !== lost) };
  });

  const held = new Map<string, number>(candidates.map((o) => [o, 0]));
  for (const r of ranges) {
    for (const h of [r.owner, ...r.replicas]) {
      const v = held.get(h);
      if (v !== undefined) held.set(h, v + (r.end - r.start));
    }
  }
  const orphanedSet = new Set(orphaned);
  const underReplicated: number[] = [];
  for (const r of ranges) {
    if (orphanedSet.has(r.index)) continue;
    while (r.replicas.length < plan.replicas) {
      let best: string | undefined;
      for (const o of candidates) {
        if (o === r.owner || r.replicas.includes(o)) continue;
        if (best === undefined || held.get(o)! < held.get(best)!) best = o;
      }
      if (best === undefined) break;
      r.replicas.push(best);
      held.set(best, held.get(best)! + (r.end - r.start));
      moves.push({ index: r.index, from: lost, to: best, fromReplica: false });
    }
    if (r.replicas.length < plan.replicas) underReplicated.push(r.index);
  }
  return { plan: { paramCount: plan.paramCount, replicas: plan.replicas, ranges }, moves, orphaned, underReplicated };
}

/**
 * Float32 bytes each owner holds as primary (values × 4), owners in order of their first range.
 * @example ownerBytes(plan).get('owner-a') // 20000
 */
export function ownerBytes(plan: ShardPlan): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of plan.ranges) out.set(r.owner, (out.get(r.owner) ?? 0) + (r.end - r.start) * 4);
  return out;
}

/**
 * The plan for logs, one line per owner (owners in order of first appearance): its primary
 * spans, their size and range count, and what it holds as a replica.
 * @example describePlan(plan) // "owner a: [0, 5000) 20.0 kB, 2 ranges\nowner b: [5000, 10000) 20.0 kB, 2 ranges"
 */
export function describePlan(plan: ShardPlan): string {
  interface Holding {
    spans: [number, number][];
    ranges: number;
    values: number;
    replicaRanges: number;
    replicaValues: number;
  }
  const holdings = new Map<string, Holding>();
  const holding = (o: string): Holding => {
    let h = holdings.get(o);
    if (h === undefined) {
      h = { spans: [], ranges: 0, values: 0, replicaRanges: 0, replicaValues: 0 };
      holdings.set(o, h);
    }
    return h;
  };
  for (const r of plan.ranges) {
    const h = holding(r.owner);
    const last = h.spans.at(-1);
    if (last !== undefined && last[1] === r.start) last[1] = r.end;
    else h.spans.push([r.start, r.end]);
    h.ranges++;
    h.values += r.end - r.start;
    for (const o of r.replicas) {
      const rh = holding(o);
      rh.replicaRanges++;
      rh.replicaValues += r.end - r.start;
    }
  }
  const lines: string[] = [];
  for (const [o, h] of holdings) {
    let line =
      h.ranges === 0
        ? `owner ${o}: no ranges`
        : `owner ${o}: ${h.spans.map(([s, e]) => `[${s}, ${e})`).join(' + ')} ${formatBytes(h.values * 4)}, ${plural(h.ranges, 'range')}`;
    if (h.replicaRanges > 0) line += `; replica of ${plural(h.replicaRanges, 'range')} (${formatBytes(h.replicaValues * 4)})`;
    lines.push(line);
  }
  return lines.join('\n');
}

const OwnerId = z.string().min(1).max(128);
const PlanSchema = z.strictObject({
  paramCount: z.int().min(1),
  replicas: z.int().min(0),
  ranges: z.array(
    z.strictObject({
      index: z.int().min(0),
      start: z.int().min(0),
      end: z.int().min(1),
      owner: OwnerId,
      replicas: z.array(OwnerId),
    }),
  ),
});

/**
 * Checks an untrusted plan-shaped value (e.g. read from a checkpoint) and returns it as a plan:
 * the ranges are indexed 0..n-1, tile [0, paramCount) in order with no gap or overlap, each has
 * 1 to `maxRangeValues` values, and no more than `replicas` replicas, all distinct and none the
 * owner. Throws CHECKPOINT_INVALID naming the first problem.
 * @example const plan = checkPlan(JSON.parse(text).plan);
 */
export function checkPlan(value: unknown, maxRangeValues: number = MAX_RANGE_VALUES): ShardPlan {
  const parsed = PlanSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    throw new CrowdtrainError('CHECKPOINT_INVALID', `shard plan: ${where}${issue.message}`);
  }
  const plan = parsed.data;
  const bad = (message: string): never => {
    throw new CrowdtrainError('CHECKPOINT_INVALID', `shard plan: ${message}`);
  };
  if (plan.ranges.length === 0) bad(`no ranges for ${plan.paramCount} parameters`);
  let expectedStart = 0;
  for (const [i, r] of plan.ranges.entries()) {
    if (r.index !== i) bad(`range ${i} has index ${r.index}`);
    if (r.start !== expectedStart) {
      bad(`range ${i} starts at ${r.start}, expected ${expectedStart} (${i === 0 ? 'the start of the vector' : `where range ${i - 1} ends`})`);
    }
    if (r.end <= r.start) bad(`range ${i} [${r.start}, ${r.end}) is empty`);
    if (r.end - r.start > maxRangeValues) bad(`range ${i} [${r.start}, ${r.end}) has ${r.end - r.start} values, at most ${maxRangeValues} allowed`);
    if (r.end > plan.paramCount) bad(`range ${i} [${r.start}, ${r.end}) ends past the ${plan.paramCount} parameters`);
    if (r.replicas.includes(r.owner)) bad(`range ${i} lists its owner ${r.owner} as a replica`);
    if (new Set(r.replicas).size !== r.replicas.length) bad(`range ${i} lists a replica twice: ${r.replicas.join(', ')}`);
    if (r.replicas.length > plan.replicas) bad(`range ${i} has ${r.replicas.length} replicas, the plan has ${plan.replicas}`);
    expectedStart = r.end;
  }
  if (expectedStart !== plan.paramCount) bad(`ranges end at ${expectedStart}, expected ${plan.paramCount} parameters`);
  return plan;
}

function checkOwners(owners: readonly string[]): void {
  if (owners.length === 0) throw new CrowdtrainError('INVALID_CONFIG', 'a sharded run needs at least 1 shard owner, 0 connected');
  const seen = new Set<string>();
  for (const [i, o] of owners.entries()) {
    if (typeof o !== 'string' || o.length === 0) throw new CrowdtrainError('INVALID_CONFIG', `shard owner ${i} has an empty id`);
    if (seen.has(o)) throw new CrowdtrainError('INVALID_CONFIG', `shard owner ${o} is listed twice`);
    seen.add(o);
  }
}

/** Region boundaries (k+1 of them, k = min(owners, values)) with sizes differing by at most 1. */
function equalRegions(paramCount: number, owners: number): number[] {
  const k = Math.min(owners, paramCount);
  const base = Math.floor(paramCount / k);
  const extra = paramCount % k;
  const bounds = [0];
  for (let i = 0; i < k; i++) bounds.push(bounds[i]! + base + (i < extra ? 1 : 0));
  return bounds;
}

/**
 * The boundaries between non-empty tensors, 0 first and totalSize last (empty entries add no
 * boundary). Throws INVALID_CONFIG when the entries do not tile [0, totalSize) in order.
 */
function tensorBounds(layout: ShardLayout): number[] {
  const bounds = [0];
  let at = 0;
  for (const [i, e] of layout.entries.entries()) {
    if (!Number.isSafeInteger(e.size) || e.size < 0) throw new CrowdtrainError('INVALID_CONFIG', `layout entry ${i} has size ${e.size}`);
    if (e.offset !== at) throw new CrowdtrainError('INVALID_CONFIG', `layout entry ${i} starts at ${e.offset}, expected ${at}`);
    at += e.size;
    if (e.size > 0) bounds.push(at);
  }
  if (at !== layout.totalSize) throw new CrowdtrainError('INVALID_CONFIG', `layout entries cover ${at} values, the layout has ${layout.totalSize}`);
  return bounds;
}

/**
 * Region boundaries, a subset of the tensor boundaries `tb` (prefix sums, tb[0] = 0), for
 * k = min(owners, tensors) regions with the smallest possible largest region. The smallest
 * feasible maximum M is found by binary search (greedy packing decides feasibility exactly);
 * then each cut is placed, among those that keep the rest packable into the remaining regions
 * under M, nearest the equal-size boundary (ties: the earlier cut).
 */
function alignedRegions(tb: readonly number[], owners: number): number[] {
  const n = tb.length - 1;
  const total = tb[n]!;
  const k = Math.min(owners, n);
  let largestTensor = 0;
  for (let i = 0; i < n; i++) largestTensor = Math.max(largestTensor, tb[i + 1]! - tb[i]!);
  const regionsNeeded = (cap: number): number => {
    let count = 0;
    for (let i = 0; i < n; count++) {
      let j = i + 1;
      while (j < n && tb[j + 1]! - tb[i]! <= cap) j++;
      i = j;
    }
    return count;
  };
  let lo = Math.max(largestTensor, Math.ceil(total / k));
  let hi = total;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (regionsNeeded(mid) <= k) hi = mid;
    else lo = mid + 1;
  }
  const cap = lo;
  // need[i]: fewest regions of size <= cap covering tensors i..n-1 (greedy is optimal; need[n] = 0).
  const need = new Array<number>(n + 1).fill(0);
  for (let i = n - 1, j = n; i >= 0; i--) {
    while (tb[j]! - tb[i]! > cap) j--;
    need[i] = 1 + need[j]!;
  }
  const cuts = [0];
  let pos = 0;
  for (let r = 0; r < k - 1; r++) {
    const left = k - 1 - r;
    const target = ((r + 1) * total) / k;
    let best = -1;
    for (let e = pos + 1; e <= n - left && tb[e]! - tb[pos]! <= cap; e++) {
      if (need[e]! > left) continue;
      if (best < 0 || Math.abs(tb[e]! - target) < Math.abs(tb[best]! - target)) best = e;
    }
    // Unreachable: cutting after the greedy region from pos, or at n - left, is always allowed.
    if (best < 0) throw new CrowdtrainError('INTERNAL', `no layer-aligned cut for region ${r} under ${cap} values`);
    cuts.push(tb[best]!);
    pos = best;
  }
  cuts.push(total);
  return cuts;
}

/** [start, end) cut into the fewest pieces of at most `max` values, sizes differing by at most 1. */
function splitEvenly(start: number, end: number, max: number): [number, number][] {
  const len = end - start;
  const pieces = Math.ceil(len / max);
  const base = Math.floor(len / pieces);
  const extra = len % pieces;
  const out: [number, number][] = [];
  let at = start;
  for (let i = 0; i < pieces; i++) {
    const next = at + base + (i < extra ? 1 : 0);
    out.push([at, next]);
    at = next;
  }
  return out;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e9).toFixed(1)} GB`;
}
