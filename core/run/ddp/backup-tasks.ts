import type { Assignment, RunEffect } from '../run-machine.ts';
import type { Round } from './ddp-round.ts';

/**
 * Backup tasks of the DDP machine (MapReduce's "backup tasks", Dean & Ghemawat 2004): once all but
 * the last few of a round's slices are in, a slice still out past a threshold is also given to a
 * member that is idle or done; the first valid answer wins. Decides who backs up what and when to
 * wake up; the machine keeps the round's books.
 */

/** Backup settings from the run config (defaults: multiple 3, floorMs 200). */
export interface BackupOptions {
  multiple?: number;
  floorMs?: number;
}

/** What backup planning reads of the machine. */
export interface BackupContext {
  /** Members of the run now. */
  members: readonly string[];
  /** Strikes of a worker (a worker with strikes is backed up at once and never runs a backup). */
  strikes(workerId: string): number;
  /** Whether the worker sits rounds out as too slow for a share. */
  isSpare(workerId: string): boolean;
  /** The most samples the worker said it can take in one slice (its hello's `maxBatch`; absent: no cap). */
  maxBatch?(workerId: string): number;
}

/**
 * A member free to run a backup of `samples` samples: one without a slice this round, else the
 * earliest finisher; never one with strikes, nor one whose `maxBatch` is below `samples`.
 */
export function backupCandidate(r: Round, ctx: BackupContext, samples = 0): string | undefined {
  const fits = (w: string) => (ctx.maxBatch?.(w) ?? Infinity) >= samples;
  const free = (w: string) => !r.backups.has(w) && ctx.strikes(w) === 0 && ctx.members.includes(w) && fits(w);
  const idle = ctx.members.find((w) => !r.slices.has(w) && !ctx.isSpare(w) && free(w));
  return idle ?? r.finishOrder.find((w) => free(w) && r.answeredBy.get(w) === w);
}

/**
 * Once all but the last few of the round's slices are in (at most a quarter, at least one, out),
 * gives each slice still out past the backup threshold
 * (`max(multiple x median slice time, floorMs)`; at once for a worker with strikes) to a member
 * that is idle or done, or asks to be woken when the earliest threshold is reached.
 */
export function checkStragglers(r: Round, opts: BackupOptions, ctx: BackupContext, fx: RunEffect[]): void {
  const backedUp = new Set(r.backups.values());
  const late = [...r.slices.keys()].filter((w) => !r.answeredBy.has(w) && !backedUp.has(w) && !r.orphaned.has(w));
  // Only the last few slices are backed up: at most a quarter of them (at least one) may still be out.
  const out = r.slices.size - r.answeredBy.size;
  if (late.length === 0 || out > Math.max(1, Math.floor(r.slices.size / 4)) || r.elapsed.length === 0) return;
  const thresholdMs = Math.max((opts.multiple ?? 3) * median(r.elapsed), opts.floorMs ?? 200);
  let wakeAt = Infinity;
  const assignments: Assignment[] = [];
  for (const slow of late) {
    const dueAt = ctx.strikes(slow) > 0 ? 0 : thresholdMs;
    if (r.nowMs < dueAt) {
      wakeAt = Math.min(wakeAt, dueAt);
      continue;
    }
    const indices = r.slices.get(slow) ?? [];
    const backupWorker = backupCandidate(r, ctx, indices.length);
    // Nobody free can take this one (a smaller late slice may still find a taker).
    if (backupWorker === undefined) continue;
    r.backups.set(backupWorker, slow);
    r.hadBackup = true;
    assignments.push({ workerId: backupWorker, indices });
    fx.push({ type: 'record', kind: 'backup_assigned', workerId: backupWorker, detail: { step: r.step, slowWorker: slow, samples: indices.length, waitedMs: Math.round(r.nowMs), thresholdMs: Math.round(dueAt) } });
  }
  if (assignments.length > 0) fx.push({ type: 'assign', step: r.step, epoch: r.epoch, paramsVersion: r.step, assignments, backup: true });
  if (wakeAt !== Infinity && r.wakeAtMs !== wakeAt) {
    r.wakeAtMs = wakeAt;
    fx.push({ type: 'armWake', step: r.step, afterMs: Math.max(1, Math.ceil(wakeAt - r.nowMs)) });
  }
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
