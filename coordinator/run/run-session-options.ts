import type { WorkerAgreement } from '../../core/aggregate/gradient-agreement.ts';
import type { RunConfig } from '../../core/config/common-config.ts';
import type { ShardOwners } from '../../core/shard/shard-owners.ts';
import type { ModeRegistry } from '../../core/run/training-mode.ts';
import type { TrackingStore } from '../../prisma/queries/tracking-store.ts';
import type { CheckpointContent } from './checkpoint-file.ts';
import type { MetricPoint } from './metric-buffer.ts';
import type { RunProgress } from './run-recorder.ts';
import type { RunModel } from './run-model.ts';
import type { WrittenCheckpoint } from './run-checkpointer.ts';

/** How the session ended. */
export interface RunOutcome {
  status: 'finished' | 'stopped' | 'failed';
  step: number;
  reason: string;
  evalAccuracy: number | null;
  evalLoss: number | null;
  /** The run failed in a way a rewind to its last checkpoint repairs (a sharded run that lost a range): the registry resumes it. */
  rewind?: boolean;
}

/** Options to open a run session. */
export interface RunSessionOptions {
  runId: string;
  config: RunConfig;
  store: TrackingStore;
  dataDir: string;
  /** The modes this coordinator can run (the built-in registry by default). */
  modes?: ModeRegistry;
  /** The run's model and data, already opened (the session owns it from here); else the session opens them. */
  model?: RunModel;
  /**
   * Memory for the results of one round (RESULT_MEMORY_BYTES by default, at most one 4 GiB arena):
   * it caps how many workers serve the run at once (each result is held until the round applies).
   */
  resultMemoryBytes?: number;
  /** Resume from this checkpoint content (exact continuation). */
  resumeFrom?: CheckpointContent;
  onProgress?: (p: RunProgress) => void;
  /** Called after every applied update with the samples each contributing worker trained. */
  onUpdateApplied?: (u: AppliedUpdate) => void;
  /** Called after every update with each worker's agreement with the rest of the fleet (3+ workers). */
  onWorkerAgreement?: (a: WorkerAgreement) => void;
  /** Called with every batch of metric points as it is logged (live views; no database read needed). */
  onMetrics?: (runId: string, points: MetricPoint[]) => void;
  /** Called after each checkpoint is written and recorded. */
  onCheckpoint?: (c: WrittenCheckpoint) => void;
  /** The shard owners connected to this coordinator (needed by `mode: sharded`). */
  shardOwners?: ShardOwners;
}

/** What one applied update trained. */
export interface AppliedUpdate {
  runId: string;
  /** The update's index (params version it was computed at). */
  step: number;
  epoch: number;
  trainLoss: number;
  slices: { workerId: string; indices: number[] }[];
}
