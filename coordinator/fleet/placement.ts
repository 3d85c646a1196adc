/**
 * Placement of a shared fleet over the active runs: which run each connected worker serves. Pure
 * (no sockets, no timers), so every rule is unit-tested on its own; the coordinator turns the
 * difference between the current and the placed assignment into releases and offers.
 *
 * The rules, in order:
 * 1. A worker pinned to a run serves only that run (idle while it does not accept workers).
 * 2. Every accepting run first gets up to its `minWorkers`, highest priority first.
 * 3. Then the remaining workers go, one at a time, to the accepting run of highest priority that is
 *    below its `maxWorkers`; among runs of equal priority the one with the fewest workers, then the
 *    one started first. So a high-priority run takes the fleet (leaving lower ones their minimum),
 *    and equal-priority runs share it evenly.
 * 4. Each run picks, in this order: its current members pinned to it, workers pinned to it, its
 *    current members, idle workers, then members of other runs (lowest priority first): a
 *    placement that does not need to move a worker does not move it.
 * A worker a run cannot use (`canServe`: backend, an earlier failed join) is never placed there.
 */

/** An active run as placement sees it. */
export interface PlacementRun {
  id: string;
  priority: number;
  minWorkers: number;
  /** null: no cap. */
  maxWorkers: number | null;
  /** Start order (smaller started first): the tie-break among equal priority and equal size. */
  order: number;
  /** Whether it takes workers now (training; false while paused or ending). */
  accepting: boolean;
  /** Whether this worker can serve the run (its backend is allowed, it has not failed to join it). */
  canServe(workerId: string): boolean;
}

/** A connected worker as placement sees it. */
export interface PlacementWorker {
  id: string;
  /** The run it serves now (null: idle). */
  runId: string | null;
  /** The run it is pinned to (null: any). */
  pinnedRunId: string | null;
}

/** Where each worker should be: workerId → runId, or null for idle. Every worker of the input has an entry. */
export type Placement = Map<string, string | null>;

/** Computes the placement of `workers` over `runs` (see the module comment for the rules). */
export function placeWorkers(runs: readonly PlacementRun[], workers: readonly PlacementWorker[]): Placement {
  const accepting = runs.filter((r) => r.accepting);
  const byId = new Map(runs.map((r) => [r.id, r]));
  const placed: Placement = new Map(workers.map((w) => [w.id, null]));
  const count = new Map(accepting.map((r) => [r.id, 0]));
  const free = new Set(workers.map((w) => w.id));

  const eligible = (w: PlacementWorker, r: PlacementRun) => (w.pinnedRunId === null || w.pinnedRunId === r.id) && r.canServe(w.id);
  const rank = (w: PlacementWorker, r: PlacementRun): number[] => {
    const current = w.runId === r.id;
    const pinned = w.pinnedRunId === r.id;
    if (current && pinned) return [0];
    if (pinned) return [1];
    if (current) return [2];
    const cur = w.runId === null ? undefined : byId.get(w.runId);
    if (!cur?.accepting) return [3];
    // A member of another run: take from the lowest priority first.
    return [4, cur.priority];
  };
  // Each run's candidates in its order of preference, sorted once (stable: input order breaks
  // ties); a pick takes the first still free. O(runs x workers log workers) in all.
  const candidates = new Map<string, { list: PlacementWorker[]; next: number }>();
  const candidatesOf = (r: PlacementRun) => {
    let c = candidates.get(r.id);
    if (!c) {
      const ranked = workers.filter((w) => eligible(w, r)).map((w, i) => ({ w, k: rank(w, r), i }));
      ranked.sort((a, b) => (lexLess(a.k, b.k) ? -1 : lexLess(b.k, a.k) ? 1 : a.i - b.i));
      c = { list: ranked.map((x) => x.w), next: 0 };
      candidates.set(r.id, c);
    }
    return c;
  };
  const pick = (r: PlacementRun): boolean => {
    const c = candidatesOf(r);
    while (c.next < c.list.length && !free.has(c.list[c.next]!.id)) c.next += 1;
    const best = c.list[c.next];
    if (!best) return false;
    c.next += 1;
    free.delete(best.id);
    placed.set(best.id, r.id);
    count.set(r.id, count.get(r.id)! + 1);
    return true;
  };
  const hasRoom = (r: PlacementRun) => r.maxWorkers === null || count.get(r.id)! < r.maxWorkers;

  // 2. minimums, highest priority first.
  for (const r of [...accepting].sort((a, b) => b.priority - a.priority || a.order - b.order)) {
    while (count.get(r.id)! < r.minWorkers && hasRoom(r) && pick(r)) {
      // picked one
    }
  }
  // 3. the rest, one at a time.
  const open = new Set(accepting.filter(hasRoom));
  while (free.size > 0 && open.size > 0) {
    let target: PlacementRun | null = null;
    for (const r of open) {
      if (target === null || r.priority > target.priority || (r.priority === target.priority && (count.get(r.id)! < count.get(target.id)! || (count.get(r.id) === count.get(target.id) && r.order < target.order)))) {
        target = r;
      }
    }
    if (!target) break;
    if (!pick(target) || !hasRoom(target)) open.delete(target);
  }
  return placed;
}

function lexLess(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
}
