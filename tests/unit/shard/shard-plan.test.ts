/**
 * core/shard/shard-plan.ts: hand-computed plans, properties (fast-check) of planShards (tiling,
 * one contiguous region per owner, balance, layer-aligned min-max against a brute force over all
 * cut choices, range sizes, replicas, determinism), reassignOwner's promotions, new replicas and
 * orphans, the log helpers, and checkPlan's refusals.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';
import { checkPlan, describePlan, ownerBytes, planShards, reassignOwner, type ShardPlan, type ShardLayout } from '../../../core/shard/shard-plan.ts';
import { MAX_RANGE_VALUES } from '../../../core/shard/shard-protocol.ts';

const flat = (totalSize: number): ShardLayout => ({ totalSize, entries: [{ offset: 0, size: totalSize }] });

function layoutOf(sizes: readonly number[]): ShardLayout {
  const entries: { offset: number; size: number }[] = [];
  let offset = 0;
  for (const size of sizes) {
    entries.push({ offset, size });
    offset += size;
  }
  return { totalSize: offset, entries };
}

const ownerIds = (n: number): string[] => Array.from({ length: n }, (_, i) => `o${i}`);
const sizes = (plan: ShardPlan): number[] => plan.ranges.map((r) => r.end - r.start);

/** Each owner's region [start, end) in plan order (asserting its ranges are consecutive). */
function regions(plan: ShardPlan): { owner: string; start: number; end: number }[] {
  const out: { owner: string; start: number; end: number }[] = [];
  for (const r of plan.ranges) {
    const last = out.at(-1);
    if (last !== undefined && last.owner === r.owner) last.end = r.end;
    else out.push({ owner: r.owner, start: r.start, end: r.end });
  }
  expect(new Set(out.map((g) => g.owner)).size).toBe(out.length);
  return out;
}

/** Asserts the ranges are indexed 0..n-1 and tile [0, paramCount) with no gap or overlap. */
function expectTiling(plan: ShardPlan): void {
  let at = 0;
  for (const [i, r] of plan.ranges.entries()) {
    expect(r.index).toBe(i);
    expect(r.start).toBe(at);
    expect(r.end).toBeGreaterThan(r.start);
    at = r.end;
  }
  expect(at).toBe(plan.paramCount);
}

/** Smallest possible largest region over every choice of k-1 cuts among the tensor boundaries. */
function bruteForceMinMax(tensorSizes: readonly number[], k: number): number {
  const n = tensorSizes.length;
  let best = Infinity;
  const choose = (from: number, left: number, start: number, largest: number): void => {
    if (left === 0) {
      let rest = 0;
      for (let i = start; i < n; i++) rest += tensorSizes[i]!;
      if (rest > 0 || start === n) best = Math.min(best, Math.max(largest, rest));
      return;
    }
    for (let cut = from; cut < n; cut++) {
      let region = 0;
      for (let i = start; i < cut; i++) region += tensorSizes[i]!;
      if (region === 0) continue;
      choose(cut + 1, left - 1, cut, Math.max(largest, region));
    }
  };
  choose(1, k - 1, 0, 0);
  return best;
}

function expectError(fn: () => unknown, code: string, message: string | RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CrowdtrainError);
    expect((err as CrowdtrainError).code).toBe(code);
    if (typeof message === 'string') expect((err as Error).message).toBe(message);
    else expect((err as Error).message).toMatch(message);
    return;
  }
  throw new Error('expected an error');
}

describe('planShards examples', () => {
  it('splits 10 values over 3 owners as 4, 3, 3', () => {
    const plan = planShards(flat(10), ['a', 'b', 'c']);
    expect(plan).toEqual({
      paramCount: 10,
      replicas: 0,
      ranges: [
        { index: 0, start: 0, end: 4, owner: 'a', replicas: [] },
        { index: 1, start: 4, end: 7, owner: 'b', replicas: [] },
        { index: 2, start: 7, end: 10, owner: 'c', replicas: [] },
      ],
    });
  });

  it('uses only the first owners when there are fewer values than owners', () => {
    const plan = planShards(flat(2), ['a', 'b', 'c'], { replicas: 2 });
    expect(plan.ranges).toEqual([
      { index: 0, start: 0, end: 1, owner: 'a', replicas: ['b', 'c'] },
      { index: 1, start: 1, end: 2, owner: 'b', replicas: ['c', 'a'] },
    ]);
  });

  it('cuts a region into equal ranges of at most maxRangeValues', () => {
    expect(sizes(planShards(flat(10), ['a'], { maxRangeValues: 3 }))).toEqual([3, 3, 2, 2]);
    // Regions 9 and 8: 9 takes three ranges of 3, 8 two of 4.
    expect(sizes(planShards(flat(17), ['a', 'b'], { maxRangeValues: 4 }))).toEqual([3, 3, 3, 4, 4]);
  });

  it('defaults maxRangeValues to MAX_RANGE_VALUES', () => {
    const total = 2 * MAX_RANGE_VALUES + 1;
    const pieces = sizes(planShards(flat(total), ['a']));
    expect(pieces).toHaveLength(3);
    expect(pieces.reduce((a, b) => a + b, 0)).toBe(total);
    expect(Math.max(...pieces)).toBeLessThanOrEqual(MAX_RANGE_VALUES);
    expect(Math.max(...pieces) - Math.min(...pieces)).toBeLessThanOrEqual(1);
    expect(planShards(flat(MAX_RANGE_VALUES), ['a']).ranges).toHaveLength(1);
  });

  it('gives replicas as the next owners, cyclically', () => {
    const plan = planShards(flat(8), ['a', 'b', 'c', 'd'], { replicas: 2 });
    expect(plan.replicas).toBe(2);
    expect(plan.ranges.map((r) => [r.owner, ...r.replicas])).toEqual([
      ['a', 'b', 'c'],
      ['b', 'c', 'd'],
      ['c', 'd', 'a'],
      ['d', 'a', 'b'],
    ]);
  });

  it('layer-aligned: cuts at tensor boundaries to minimise the largest region', () => {
    const plan = planShards(layoutOf([4, 4, 2]), ['a', 'b'], { layerAligned: true });
    expect(plan.ranges.map((r) => [r.start, r.end, r.owner])).toEqual([
      [0, 4, 'a'],
      [4, 10, 'b'],
    ]);
    // Largest tensor 100 bounds the max; the cuts go as near 35 and 70 as that allows.
    const skewed = planShards(layoutOf([1, 1, 1, 1, 1, 100]), ['a', 'b', 'c'], { layerAligned: true });
    expect(skewed.ranges.map((r) => [r.start, r.end])).toEqual([
      [0, 4],
      [4, 5],
      [5, 105],
    ]);
    // Even tensors: an equal split exists and is found.
    expect(sizes(planShards(layoutOf([3, 3, 3, 3, 3, 3]), ['a', 'b', 'c'], { layerAligned: true }))).toEqual([6, 6, 6]);
  });

  it('layer-aligned: fewer non-empty tensors than owners uses the first owners, one tensor each', () => {
    const plan = planShards(layoutOf([0, 5, 0, 7]), ['a', 'b', 'c'], { layerAligned: true });
    expect(plan.ranges.map((r) => [r.start, r.end, r.owner])).toEqual([
      [0, 5, 'a'],
      [5, 12, 'b'],
    ]);
  });

  it('layer-aligned: a tensor larger than maxRangeValues is cut into ranges of its owner', () => {
    const plan = planShards(layoutOf([10, 2]), ['a', 'b'], { layerAligned: true, maxRangeValues: 4 });
    expect(plan.ranges.map((r) => [r.start, r.end, r.owner])).toEqual([
      [0, 4, 'a'],
      [4, 7, 'a'],
      [7, 10, 'a'],
      [10, 12, 'b'],
    ]);
  });

  it('not layer-aligned: the entries are not read', () => {
    expect(sizes(planShards({ totalSize: 6, entries: [] }, ['a', 'b']))).toEqual([3, 3]);
  });
});

describe('planShards properties', () => {
  const flatCase = fc
    .record({
      p: fc.integer({ min: 1, max: 5000 }),
      n: fc.integer({ min: 1, max: 9 }),
      max: fc.integer({ min: 1, max: 700 }),
      r: fc.nat({ max: 8 }),
    })
    .map(({ p, n, max, r }) => ({ p, n, max, r: r % n }));

  it('tiles [0, P) with one contiguous, balanced region per owner, ranges within the limit', () => {
    fc.assert(
      fc.property(flatCase, ({ p, n, max, r }) => {
        const owners = ownerIds(n);
        const plan = planShards(flat(p), owners, { maxRangeValues: max, replicas: r });
        expectTiling(plan);
        const regs = regions(plan);
        expect(regs.map((g) => g.owner)).toEqual(owners.slice(0, Math.min(n, p)));
        const regionSizes = regs.map((g) => g.end - g.start);
        expect(Math.max(...regionSizes) - Math.min(...regionSizes)).toBeLessThanOrEqual(1);
        for (const g of regs) {
          const pieces = plan.ranges.filter((x) => x.owner === g.owner).map((x) => x.end - x.start);
          expect(pieces).toHaveLength(Math.ceil((g.end - g.start) / max));
          expect(Math.max(...pieces)).toBeLessThanOrEqual(max);
          expect(Math.max(...pieces) - Math.min(...pieces)).toBeLessThanOrEqual(1);
        }
        expect(checkPlan(structuredClone(plan), max)).toEqual(plan);
      }),
    );
  });

  it('is deterministic', () => {
    fc.assert(
      fc.property(flatCase, fc.boolean(), ({ p, n, max, r }, aligned) => {
        const layout = layoutOf([Math.ceil(p / 3), Math.floor(p / 3), p - Math.ceil(p / 3) - Math.floor(p / 3)]);
        const a = planShards(layout, ownerIds(n), { maxRangeValues: max, replicas: r, layerAligned: aligned });
        const b = planShards(structuredClone(layout), ownerIds(n), { maxRangeValues: max, replicas: r, layerAligned: aligned });
        expect(b).toEqual(a);
      }),
    );
  });

  it('replicas are the next R owners cyclically: distinct, never the owner', () => {
    fc.assert(
      fc.property(flatCase, ({ p, n, max, r }) => {
        const owners = ownerIds(n);
        const plan = planShards(flat(p), owners, { maxRangeValues: max, replicas: r });
        for (const x of plan.ranges) {
          const at = owners.indexOf(x.owner);
          expect(x.replicas).toEqual(Array.from({ length: r }, (_, i) => owners[(at + 1 + i) % n]));
          expect(x.replicas).not.toContain(x.owner);
          expect(new Set(x.replicas).size).toBe(r);
        }
      }),
    );
  });

  it('layer-aligned: boundaries are entry offsets and the largest region is the brute-force minimum', () => {
    const alignedCase = fc.record({
      tensors: fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 9 }).filter((t) => t.some((s) => s > 0)),
      n: fc.integer({ min: 1, max: 6 }),
      max: fc.integer({ min: 1, max: 40 }),
    });
    fc.assert(
      fc.property(alignedCase, ({ tensors, n, max }) => {
        const layout = layoutOf(tensors);
        const plan = planShards(layout, ownerIds(n), { layerAligned: true, maxRangeValues: max });
        expectTiling(plan);
        const regs = regions(plan);
        const nonEmpty = tensors.filter((s) => s > 0);
        expect(regs).toHaveLength(Math.min(n, nonEmpty.length));
        const offsets = new Set([...layout.entries.map((e) => e.offset), layout.totalSize]);
        for (const g of regs) {
          expect(offsets.has(g.start)).toBe(true);
          expect(offsets.has(g.end)).toBe(true);
        }
        const largest = Math.max(...regs.map((g) => g.end - g.start));
        expect(largest).toBe(bruteForceMinMax(nonEmpty, regs.length));
        expect(Math.max(...sizes(plan))).toBeLessThanOrEqual(max);
      }),
    );
  });
});

describe('planShards refuses bad inputs', () => {
  it('names the problem', () => {
    expectError(() => planShards(flat(10), []), 'INVALID_CONFIG', 'a sharded run needs at least 1 shard owner, 0 connected');
    expectError(() => planShards(flat(10), ['a', 'b', 'a']), 'INVALID_CONFIG', 'shard owner a is listed twice');
    expectError(() => planShards(flat(10), ['a', '']), 'INVALID_CONFIG', 'shard owner 1 has an empty id');
    expectError(() => planShards(flat(10), ['a', 'b'], { replicas: 2 }), 'INVALID_CONFIG', 'replicas: 2 needs at least 3 shard owners, 2 connected');
    expectError(() => planShards(flat(10), ['a', 'b'], { replicas: -1 }), 'INVALID_CONFIG', 'replicas must be an integer >= 0, got -1');
    expectError(() => planShards(flat(10), ['a', 'b'], { replicas: 0.5 }), 'INVALID_CONFIG', 'replicas must be an integer >= 0, got 0.5');
    expectError(() => planShards(flat(10), ['a'], { maxRangeValues: 0 }), 'INVALID_CONFIG', 'maxRangeValues must be an integer >= 1, got 0');
    expectError(() => planShards(flat(0), ['a']), 'INVALID_CONFIG', 'a sharded run needs at least 1 parameter, the layout has 0');
  });

  it('refuses a layout whose entries do not tile it (layer-aligned)', () => {
    const gap = { totalSize: 10, entries: [{ offset: 0, size: 4 }, { offset: 5, size: 5 }] };
    expectError(() => planShards(gap, ['a'], { layerAligned: true }), 'INVALID_CONFIG', 'layout entry 1 starts at 5, expected 4');
    const short = { totalSize: 10, entries: [{ offset: 0, size: 4 }] };
    expectError(() => planShards(short, ['a'], { layerAligned: true }), 'INVALID_CONFIG', 'layout entries cover 4 values, the layout has 10');
    const negative = { totalSize: 10, entries: [{ offset: 0, size: -1 }] };
    expectError(() => planShards(negative, ['a'], { layerAligned: true }), 'INVALID_CONFIG', 'layout entry 0 has size -1');
  });
});

describe('reassignOwner', () => {
  it('promotes the replica of a lost owner and refills replicas from the least loaded', () => {
    const plan = planShards(flat(9), ['a', 'b', 'c'], { replicas: 1 });
    const before = structuredClone(plan);
    const out = reassignOwner(plan, 'b', ['a', 'c']);
    expect(plan).toEqual(before);
    // c takes over range 1; range 0 (owner a) can only get c, range 1 (owner c) only a.
    expect(out.plan.ranges.map((r) => [r.owner, ...r.replicas])).toEqual([
      ['a', 'c'],
      ['c', 'a'],
      ['c', 'a'],
    ]);
    expect(out.moves).toEqual([
      { index: 1, from: 'b', to: 'c', fromReplica: true },
      { index: 0, from: 'b', to: 'c', fromReplica: false },
      { index: 1, from: 'b', to: 'a', fromReplica: false },
    ]);
    expect(out.orphaned).toEqual([]);
    expect(out.underReplicated).toEqual([]);
    expect(out.plan.replicas).toBe(1);
  });

  it('picks the live owner holding the fewest values, ties by order in live', () => {
    const plan: ShardPlan = {
      paramCount: 10,
      replicas: 1,
      ranges: [
        { index: 0, start: 0, end: 6, owner: 'a', replicas: ['x'] },
        { index: 1, start: 6, end: 8, owner: 'b', replicas: ['a'] },
        { index: 2, start: 8, end: 10, owner: 'c', replicas: ['a'] },
      ],
    };
    // a holds 10, b 2, c 2: range 0 gets the first of b and c in live order, here c.
    const out = reassignOwner(plan, 'x', ['a', 'c', 'b']);
    expect(out.plan.ranges[0]!.replicas).toEqual(['c']);
    expect(out.moves).toEqual([{ index: 0, from: 'x', to: 'c', fromReplica: false }]);
    const other = reassignOwner(plan, 'x', ['b', 'c', 'a']);
    expect(other.plan.ranges[0]!.replicas).toEqual(['b']);
  });

  it('keeps the other replicas and takes the first live one', () => {
    const plan = planShards(flat(8), ['a', 'b', 'c', 'd'], { replicas: 2 });
    // Range 0: a, replicas b, c. b is gone too (not live): c takes over, b stays for its own reassignment.
    const out = reassignOwner(plan, 'a', ['c', 'd']);
    expect(out.plan.ranges[0]!.owner).toBe('c');
    expect(out.plan.ranges[0]!.replicas).toEqual(['b', 'd']);
    expect(out.moves[0]).toEqual({ index: 0, from: 'a', to: 'c', fromReplica: true });
    const then = reassignOwner(out.plan, 'b', ['c', 'd']);
    expect(then.orphaned).toEqual([]);
    for (const r of then.plan.ranges) {
      expect([r.owner, ...r.replicas].every((h) => h === 'c' || h === 'd')).toBe(true);
    }
    expect(then.underReplicated).toEqual([0, 1, 2, 3]);
  });

  it('reports ranges with no live holder as orphaned and leaves them', () => {
    const plan = planShards(flat(6), ['a', 'b', 'c'], { maxRangeValues: 1 });
    const out = reassignOwner(plan, 'b', ['a', 'c']);
    expect(out.orphaned).toEqual([2, 3]);
    expect(out.moves).toEqual([]);
    expect(out.plan).toEqual(plan);

    const replicated = planShards(flat(6), ['a', 'b', 'c'], { replicas: 1 });
    const both = reassignOwner(replicated, 'a', ['c']);
    expect(both.orphaned).toEqual([0]);
    expect(both.plan.ranges[0]).toEqual(replicated.ranges[0]);
  });

  it('reports ranges it cannot bring back to the replica count', () => {
    const plan = planShards(flat(4), ['a', 'b'], { replicas: 1 });
    const out = reassignOwner(plan, 'b', ['a']);
    expect(out.plan.ranges.map((r) => [r.owner, ...r.replicas])).toEqual([['a'], ['a']]);
    expect(out.underReplicated).toEqual([0, 1]);
    expect(out.orphaned).toEqual([]);
  });

  it('ignores the lost owner in live and repeated live ids', () => {
    const plan = planShards(flat(9), ['a', 'b', 'c'], { replicas: 1 });
    expect(reassignOwner(plan, 'b', ['a', 'b', 'c', 'a'])).toEqual(reassignOwner(plan, 'b', ['a', 'c']));
  });

  it('properties: lost owner gone, holders live and distinct, moves consistent', () => {
    const reassignCase = fc
      .record({
        p: fc.integer({ min: 1, max: 300 }),
        n: fc.integer({ min: 1, max: 7 }),
        max: fc.integer({ min: 1, max: 50 }),
        r: fc.nat({ max: 6 }),
        lost: fc.nat({ max: 6 }),
      })
      .map(({ p, n, max, r, lost }) => ({ p, n, max, r: r % n, lost: lost % n }));
    fc.assert(
      fc.property(reassignCase, ({ p, n, max, r, lost }) => {
        const owners = ownerIds(n);
        const gone = owners[lost]!;
        const live = owners.filter((o) => o !== gone);
        const plan = planShards(flat(p), owners, { maxRangeValues: max, replicas: r });
        const out = reassignOwner(plan, gone, live);
        const ownedByLost = plan.ranges.filter((x) => x.owner === gone).map((x) => x.index);
        expect(out.orphaned).toEqual(r === 0 ? ownedByLost : []);
        expectTiling(out.plan);
        for (const x of out.plan.ranges) {
          const old = plan.ranges[x.index]!;
          expect([x.start, x.end]).toEqual([old.start, old.end]);
          if (out.orphaned.includes(x.index)) {
            expect(x).toEqual(old);
            continue;
          }
          const holders = [x.owner, ...x.replicas];
          expect(holders).not.toContain(gone);
          expect(new Set(holders).size).toBe(holders.length);
          expect(x.replicas).toHaveLength(Math.min(r, n - 2));
          if (old.owner === gone) expect(x.owner).toBe(old.replicas[0]);
          else expect(x.owner).toBe(old.owner);
        }
        for (const m of out.moves) {
          const old = plan.ranges[m.index]!;
          const now = out.plan.ranges[m.index]!;
          expect(m.from).toBe(gone);
          if (m.fromReplica) {
            expect(now.owner).toBe(m.to);
            expect(old.replicas).toContain(m.to);
          } else {
            expect(now.replicas).toContain(m.to);
            expect([old.owner, ...old.replicas]).not.toContain(m.to);
          }
        }
        expect(out.underReplicated.length > 0).toBe(r > n - 2 && out.plan.ranges.some((x) => !out.orphaned.includes(x.index)));
        expect(checkPlan(structuredClone(out.plan), max)).toEqual(out.plan);
      }),
    );
  });
});

describe('ownerBytes and describePlan', () => {
  it('counts float32 bytes held as primary', () => {
    const plan = planShards(flat(10_000), ['a', 'b'], { maxRangeValues: 2500, replicas: 1 });
    expect([...ownerBytes(plan)]).toEqual([
      ['a', 20_000],
      ['b', 20_000],
    ]);
  });

  it('writes one line per owner', () => {
    expect(describePlan(planShards(flat(10_000), ['a', 'b'], { maxRangeValues: 2500 }))).toBe(
      'owner a: [0, 5000) 20.0 kB, 2 ranges\nowner b: [5000, 10000) 20.0 kB, 2 ranges',
    );
    expect(describePlan(planShards(flat(2), ['a', 'b', 'c'], { replicas: 1 }))).toBe(
      'owner a: [0, 1) 4 B, 1 range\nowner b: [1, 2) 4 B, 1 range; replica of 1 range (4 B)\nowner c: no ranges; replica of 1 range (4 B)',
    );
  });

  it('shows the spans of an owner that took over ranges', () => {
    const plan = planShards(flat(3_000_000), ['a', 'b', 'c'], { replicas: 1 });
    const out = reassignOwner(plan, 'a', ['b', 'c']);
    expect(describePlan(out.plan).split('\n')[0]).toBe('owner b: [0, 2000000) 8.0 MB, 8 ranges; replica of 4 ranges (4.0 MB)');
    expect(ownerBytes(out.plan).get('b')).toBe(8_000_000);
  });
});

describe('checkPlan', () => {
  const good = (): ShardPlan => planShards(flat(10), ['a', 'b'], { maxRangeValues: 3, replicas: 1 });
  const broken = (edit: (p: ShardPlan) => void): ShardPlan => {
    const p = good();
    edit(p);
    return p;
  };

  it('accepts a plan and returns it', () => {
    expect(checkPlan(good(), 3)).toEqual(good());
  });

  it('names the first problem', () => {
    const cases: [unknown, RegExp][] = [
      [null, /^shard plan: /],
      [{ paramCount: 10, replicas: 0 }, /^shard plan: ranges: /],
      [broken((p) => (p.ranges[1]!.owner = '')), /^shard plan: ranges\.1\.owner: /],
      [{ ...good(), extra: 1 }, /^shard plan: .*extra/],
      [broken((p) => (p.ranges = [])), /^shard plan: no ranges for 10 parameters$/],
      [broken((p) => (p.ranges[2]!.index = 5)), /^shard plan: range 2 has index 5$/],
      [broken((p) => (p.ranges[0]!.start = 1)), /^shard plan: range 0 starts at 1, expected 0 \(the start of the vector\)$/],
      [broken((p) => (p.ranges[1]!.start = 2)), /^shard plan: range 1 starts at 2, expected 3 \(where range 0 ends\)$/],
      [broken((p) => (p.ranges[1]!.start = 4)), /^shard plan: range 1 starts at 4, expected 3/],
      [broken((p) => (p.ranges[1]!.end = 3)), /^shard plan: range 1 \[3, 3\) is empty$/],
      [broken((p) => (p.ranges[3]!.end = 12)), /^shard plan: range 3 \[8, 12\) has 4 values, at most 3 allowed$/],
      [broken((p) => (p.ranges[3]!.end = 9)), /^shard plan: ranges end at 9, expected 10 parameters$/],
      [broken((p) => (p.paramCount = 9)), /^shard plan: range 3 \[8, 10\) ends past the 9 parameters$/],
      [broken((p) => (p.ranges[0]!.replicas = ['a'])), /^shard plan: range 0 lists its owner a as a replica$/],
      [broken((p) => ((p.replicas = 2), (p.ranges[0]!.replicas = ['b', 'b']))), /^shard plan: range 0 lists a replica twice: b, b$/],
      [broken((p) => (p.ranges[0]!.replicas = ['b', 'c'])), /^shard plan: range 0 has 2 replicas, the plan has 1$/],
    ];
    for (const [value, message] of cases) expectError(() => checkPlan(value, 3), 'CHECKPOINT_INVALID', message);
  });

  it('defaults the range limit to MAX_RANGE_VALUES', () => {
    const plan: ShardPlan = { paramCount: MAX_RANGE_VALUES + 1, replicas: 0, ranges: [{ index: 0, start: 0, end: MAX_RANGE_VALUES + 1, owner: 'a', replicas: [] }] };
    expectError(() => checkPlan(plan), 'CHECKPOINT_INVALID', `shard plan: range 0 [0, ${MAX_RANGE_VALUES + 1}) has ${MAX_RANGE_VALUES + 1} values, at most ${MAX_RANGE_VALUES} allowed`);
  });
});
