import path from 'node:path';
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import type { OptimizerState } from '../../core/optim/optimizer-state.ts';
import type { CheckpointReason, MachineSnapshot } from '../../core/run/run-machine.ts';
import type { TrackingStore } from '../../prisma/queries/tracking-store.ts';
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

/**
 * Writes a run's checkpoints (`<dataDir>/checkpoints/<run>/step-N.ckpt`, atomically, sha256 in the
 * database, a `checkpoint` Event) and keeps the best evaluation metric: the first checkpoint after
 * a new best is flagged best.
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
    return { runId: this.runId, step: c.step, reason: c.reason, path: file.path };
  }
}

/** Loads the checkpoint a resume asks for ('latest', 'best' or a step), verifying its sha256. */
export async function loadRunCheckpoint(
  store: TrackingStore,
  runId: string,
  which: 'latest' | 'best' | number = 'latest',
): Promise<CheckpointContent> {
  const row = await store.findCheckpoint(runId, which);
  if (!row) throw new CrowdtrainError('CHECKPOINT_INVALID', `run ${runId} has no ${String(which)} checkpoint to resume from`);
  return readCheckpointFile(row.path, row.sha256);
}
