import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { placeWorkers, type PlacementRun, type PlacementWorker } from '../../../coordinator/fleet/placement.ts';

function run(id: string, over: Partial<PlacementRun> = {}, order = 0): PlacementRun {
  return { id, priority: 0, minWorkers: 1, maxWorkers: null, order, accepting: true, canServe: () => true, ...over };
}
function workers(n: number, over: (i: number) => Partial<PlacementWorker> = () => ({})): PlacementWorker[] {
  return Array.from({ length: n }, (_, i) => ({ id: `w${i}`, runId: null, pinnedRunId: null, ...over(i) }));
}
function countOf(p: Map<string, string | null>): Record<string, number> {
  const c: Record<string, number> = {};
  for (const r of p.values()) c[r ?? 'idle'] = (c[r ?? 'idle'] ?? 0) + 1;
  return c;
}

describe('placeWorkers', () => {
  it('gives every worker to the only run, and none to a run that does not accept workers', () => {
    expect(countOf(placeWorkers([run('a')], workers(3)))).toEqual({ a: 3 });
    expect(countOf(placeWorkers([run('a', { accepting: false })], workers(3)))).toEqual({ idle: 3 });
    expect(countOf(placeWorkers([], workers(2)))).toEqual({ idle: 2 });
  });

  it('respects max_workers and leaves the rest idle', () => {
    expect(countOf(placeWorkers([run('a', { maxWorkers: 2 })], workers(5)))).toEqual({ a: 2, idle: 3 });
  });

  it('shares the fleet evenly among runs of equal priority', () => {
    expect(countOf(placeWorkers([run('a', {}, 0), run('b', {}, 1)], workers(5)))).toEqual({ a: 3, b: 2 });
  });

  it('gives a higher-priority run every worker beyond the lower runs\u2019 minimums', () => {
    const p = placeWorkers([run('low', { minWorkers: 1 }, 0), run('high', { priority: 5, minWorkers: 1 }, 1)], workers(6));
    expect(countOf(p)).toEqual({ high: 5, low: 1 });
  });

  it('fills a run up to its max, then the next priority', () => {
    const p = placeWorkers([run('low', {}, 0), run('high', { priority: 5, maxWorkers: 2 }, 1)], workers(6));
    expect(countOf(p)).toEqual({ high: 2, low: 4 });
  });

  it('does not move a worker that may stay', () => {
    // 2 runs of equal priority, already evenly placed: the same placement comes back.
    const ws = workers(4, (i) => ({ runId: i < 2 ? 'a' : 'b' }));
    const p = placeWorkers([run('a', {}, 0), run('b', {}, 1)], ws);
    for (const w of ws) expect(p.get(w.id)).toBe(w.runId);
  });

  it('moves only what is needed when a new run of equal priority starts', () => {
    const ws = workers(4, () => ({ runId: 'a' }));
    const p = placeWorkers([run('a', {}, 0), run('b', {}, 1)], ws);
    expect(countOf(p)).toEqual({ a: 2, b: 2 });
  });

  it('keeps a pinned worker on its run only, and idle while that run does not accept', () => {
    const ws = workers(3, (i) => (i === 0 ? { pinnedRunId: 'b' } : {}));
    const p = placeWorkers([run('a', { priority: 9 }, 0), run('b', {}, 1)], ws);
    expect(p.get('w0')).toBe('b');
    const paused = placeWorkers([run('a', { priority: 9 }, 0), run('b', { accepting: false }, 1)], ws);
    expect(paused.get('w0')).toBeNull();
    expect(placeWorkers([run('a')], ws).get('w0')).toBeNull();
  });

  it('prefers a pinned worker over an unpinned one when the run is full', () => {
    const ws = [
      { id: 'u', runId: 'b', pinnedRunId: null },
      { id: 'p', runId: null, pinnedRunId: 'b' },
    ];
    const p = placeWorkers([run('b', { maxWorkers: 1 }), run('a', {}, 1)], ws);
    expect(p.get('p')).toBe('b');
    expect(p.get('u')).toBe('a');
  });

  it('never places a worker on a run that cannot use it', () => {
    const p = placeWorkers([run('a', { canServe: (w) => w !== 'w1', priority: 3 }), run('b', {}, 1)], workers(3));
    expect(p.get('w1')).toBe('b');
    expect(placeWorkers([run('a', { canServe: () => false })], workers(2)).get('w0')).toBeNull();
  });

  it('guarantees a lower-priority run its minimum', () => {
    const ws = workers(4, () => ({ runId: 'high' }));
    const p = placeWorkers([run('high', { priority: 2 }, 0), run('low', { minWorkers: 2 }, 1)], ws);
    expect(countOf(p)).toEqual({ high: 2, low: 2 });
  });

  it('holds its invariants on random fleets', () => {
    const arb = fc.record({
      runs: fc.array(
        fc.record({ priority: fc.integer({ min: -2, max: 2 }), min: fc.integer({ min: 1, max: 3 }), max: fc.option(fc.integer({ min: 1, max: 6 }), { nil: null }), accepting: fc.boolean() }),
        { minLength: 0, maxLength: 4 },
      ),
      workers: fc.array(fc.record({ current: fc.integer({ min: -1, max: 3 }), pin: fc.integer({ min: -1, max: 5 }) }), { maxLength: 12 }),
    });
    fc.assert(
      fc.property(arb, ({ runs: rs, workers: wsIn }) => {
        const runs = rs.map((r, i) => run(`r${i}`, { priority: r.priority, minWorkers: r.min, maxWorkers: r.max === null ? null : Math.max(r.max, r.min), accepting: r.accepting }, i));
        const ws = wsIn.map((w, i) => ({ id: `w${i}`, runId: w.current >= 0 && w.current < runs.length ? `r${w.current}` : null, pinnedRunId: w.pin >= 0 ? `r${w.pin}` : null }));
        const p = placeWorkers(runs, ws);
        expect(p.size).toBe(ws.length);
        const counts = countOf(p);
        for (const r of runs) {
          const n = counts[r.id] ?? 0;
          if (!r.accepting) expect(n).toBe(0);
          if (r.maxWorkers !== null) expect(n).toBeLessThanOrEqual(r.maxWorkers);
        }
        for (const w of ws) {
          const target = p.get(w.id) ?? null;
          if (w.pinnedRunId !== null && target !== null) expect(target).toBe(w.pinnedRunId);
        }
        // No worker idles while an accepting run it may serve has room.
        for (const w of ws) {
          if (p.get(w.id) !== null) continue;
          for (const r of runs) {
            const mayServe = r.accepting && (w.pinnedRunId === null || w.pinnedRunId === r.id);
            if (mayServe) expect(r.maxWorkers !== null && (counts[r.id] ?? 0) >= r.maxWorkers).toBe(true);
          }
        }
      }),
    );
  });
});
