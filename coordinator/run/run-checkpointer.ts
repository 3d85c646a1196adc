import { rm } from 'node:fs/promises';
import path from 'node:path';
import createDebug from 'debug';
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import type { OptimizerState } from '../../core/optim/optimizer-state.ts';
import type { CheckpointReason, MachineSnapshot } from '../../core/run/run-machine.ts';
import type { CheckpointRecord, TrackingStore } from '../../prisma/queries/tracking-store.ts';
import { readCheckpointFile, writeCheckpointFile, type CheckpointContent } from './checkpoint-file.ts';

/** What one checkpoint holds, as the session hands it over. */
export interface CheckpointInput {
  step: number;
  reason: CheckpointReason;
  snapshot: MachineSnapshot;
  params: Float32Array;
  ruleState: OptimizerState;
}

/** A written checkpoint. */
export interface WrittenCheckpoint {
  runId: string;
  step: number;
  reason: string;
  path: string;
}

const debug = createDebug('crowdtrain:checkpoints');

/** The default of the run config's `keep_checkpoints`. */
export const DEFAULT_KEEP_CHECKPOINTS = 5;

/**
 * Writes a run's checkpoints (`<dataDir>/checkpoints/<run>/step-N.ckpt`, atomically and fsynced,
 * sha256 in the database, a `checkpoint` Event), keeps the best evaluation metric (the first
 * checkpoint after a new best is flagged best) and applies the retention policy: after each
 * write, only the newest `keep_checkpoints` checkpoints are kept, plus the best one.
 */
export class RunCheckpointer {
  private best: number | null;
  private pendingBest = false;

  constructor(
    private readonly store: TrackingStore,
    private readonly runId: string,
    private readonly mode: string,
    private readonly dataDir: string,
    bestMetric: number | null = null,
    /** The run config's `keep_checkpoints` (null or 0: keep all); when not given, read from the run's stored config. */
    private keep?: number | null,
  ) {
    this.best = bestMetric;
  }

  /** The best evaluation accuracy seen (restored from the checkpoint on resume). */
  get bestMetric(): number | null {
    return this.best;
  }

  /** Notes an evaluation result; returns true when it is a new best. */
  observeMetric(value: number): boolean {
    if (!Number.isFinite(value)) return false;
    if (this.best !== null && value <= this.best) return false;
    this.best = value;
    this.pendingBest = true;
    return true;
  }

  /** Writes one checkpoint file and its database row and Event. */
  async write(c: CheckpointInput): Promise<WrittenCheckpoint> {
    const content: CheckpointContent = {
      runId: this.runId,
      mode: this.mode,
      step: c.step,
      params: c.params,
      optimizer: c.ruleState,
      machine: c.snapshot,
      bestMetric: this.best,
      createdAt: new Date().toISOString(),
    };
    const dir = path.join(this.dataDir, 'checkpoints', this.runId);
    const file = await writeCheckpointFile(dir, content, `step-${String(c.step).padStart(8, '0')}`);
    const isBest = this.pendingBest;
    this.pendingBest = false;
    await this.store.addCheckpoint({
      runId: this.runId,
      step: c.step,
      path: file.path,
      sha256: file.sha256,
      sizeBytes: file.sizeBytes,
      isBest,
      metricValue: isBest ? this.best ?? undefined : undefined,
    });
    await this.store.recordEvent({ runId: this.runId, kind: 'checkpoint', detail: { step: c.step, reason: c.reason, path: file.path, sha256: file.sha256 } });
    try {
      await this.applyRetention();
    } catch (err) {
      // Retention is housekeeping: a failure leaves extra files, never a lost checkpoint.
      debug('retention for run %s failed: %o', this.runId, err);
    }
    return { runId: this.runId, step: c.step, reason: c.reason, path: file.path };
  }

  private async keepCount(): Promise<number | null> {
    if (this.keep === undefined) {
      const run = await this.store.getRun(this.runId);
      let configured: unknown;
      try {
        configured = run ? (JSON.parse(run.config) as { keep_checkpoints?: unknown }).keep_checkpoints : undefined;
      } catch {
        configured = undefined;
      }
      this.keep = configured === null || (typeof configured === 'number' && Number.isInteger(configured) && configured >= 0) ? configured : DEFAULT_KEEP_CHECKPOINTS;
    }
    return this.keep ? this.keep : null;
  }

  /**
   * Deletes the checkpoints beyond the newest N (by creation), except the best one. The row goes
   * first, then the file: a crash in between leaves an orphan file, never a row that names a
   * missing file. A file another kept row still names (a step rewritten after a resume) stays.
   */
  private async applyRetention(): Promise<void> {
    const keep = await this.keepCount();
    if (keep === null) return;
    const rows = newestFirst(await this.store.listCheckpoints(this.runId));
    if (rows.length <= keep) return;
    const doomed = rows.slice(keep).filter((r) => !r.isBest && !r.isLatest);
    if (doomed.length === 0) return;
    const deleted = await this.store.deleteCheckpoints(this.runId, doomed.map((r) => r.id));
    const deletedIds = new Set(deleted.map((r) => r.id));
    const stillNamed = new Set(rows.filter((r) => !deletedIds.has(r.id)).map((r) => r.path));
    for (const r of deleted) {
      if (stillNamed.has(r.path)) continue;
      await rm(r.path, { force: true });
    }
    debug('retention for run %s: deleted %d checkpoint(s)', this.runId, deleted.length);
  }
}

function newestFirst(rows: CheckpointRecord[]): CheckpointRecord[] {
  return [...rows].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (b.id < a.id ? -1 : b.id > a.id ? 1 : 0));
}

/** A checkpoint a resume from `latest` passed over, and why. */
export interface SkippedCheckpoint {
  step: number;
  reason: string;
}

/**
 * The newest checkpoint of a run that reads back valid (present, complete, its sha256 matching,
 * finite), for a resume from `latest`: when the latest is missing, torn, corrupt or invalid, the
 * next older one is tried, and so on. Only checkpoints of the current timeline are candidates
 * (each older than the one before it: checkpoints of steps a resume has rewound past are not).
 * Throws CHECKPOINT_INVALID naming every skipped one when none is valid.
 */
export async function loadNewestValidCheckpoint(
  store: TrackingStore,
  runId: string,
): Promise<{ checkpoint: CheckpointContent; skipped: SkippedCheckpoint[] }> {
  const rows = newestFirst(await store.listCheckpoints(runId));
  const latest = rows.find((r) => r.isLatest) ?? rows[0];
  if (!latest) throw new CrowdtrainError('CHECKPOINT_INVALID', `run ${runId} has no latest checkpoint to resume from`);
  const candidates = [latest];
  for (const r of rows) {
    if (r.step < (candidates[candidates.length - 1] as CheckpointRecord).step) candidates.push(r);
  }
  const skipped: SkippedCheckpoint[] = [];
  for (const row of candidates) {
    try {
      const checkpoint = await readCheckpointFile(row.path, row.sha256);
      if (checkpoint.runId !== runId) throw new CrowdtrainError('CHECKPOINT_INVALID', `checkpoint ${row.path} belongs to run ${checkpoint.runId}`);
      if (checkpoint.step !== row.step) throw new CrowdtrainError('CHECKPOINT_INVALID', `checkpoint ${row.path} holds step ${checkpoint.step}, its record says ${row.step}`);
      return { checkpoint, skipped };
    } catch (err) {
      if (!(err instanceof CrowdtrainError) || err.code !== 'CHECKPOINT_INVALID') throw err;
      skipped.push({ step: row.step, reason: err.message });
    }
  }
  throw new CrowdtrainError(
    'CHECKPOINT_INVALID',
    `run ${runId} has no valid checkpoint to resume from: ${skipped.map((s) => `step ${s.step}: ${s.reason}`).join('; ')}`,
  );
}

/** Loads exactly the checkpoint a resume asks for ('latest', 'best' or a step), verifying its sha256; strict, no fallback. */
export async function loadRunCheckpoint(
  store: TrackingStore,
  runId: string,
  which: 'latest' | 'best' | number = 'latest',
): Promise<CheckpointContent> {
  const row = await store.findCheckpoint(runId, which);
  if (!row) throw new CrowdtrainError('CHECKPOINT_INVALID', `run ${runId} has no ${String(which)} checkpoint to resume from`);
  return readCheckpointFile(row.path, row.sha256);
}
