import type { RunConfig } from '../../core/config/run-config.ts';
import type { ModeRegistry } from '../../core/run/training-mode.ts';
import type { DatasetSpec } from '../../core/data/dataset-spec.ts';
import type { Database } from '../../prisma/db.ts';
import type { TrackingStore } from '../../prisma/queries/tracking-store.ts';
import type { RunProgress } from '../run/run-recorder.ts';
import type { RunOutcome } from '../run/run-session.ts';
import type { WorkerInfo } from '../worker-info.ts';

/** Live progress of a training session, as the HTTP routes read it (RunSession.status()). */
export type LiveRunProgress = RunProgress;

/** How a training session ended (RunSession's RunOutcome). */
export type RunOutcomeView = RunOutcome;

/** A session the coordinator trains (or just started or resumed): its run id and live progress. */
export interface TrainingSessionView {
  readonly runId: string;
  status(): LiveRunProgress;
}

/** An active run session, as far as the routes look into it. */
export interface ActiveRunView extends TrainingSessionView {
  readonly config: {
    readonly name: string;
    readonly experiment: string;
    readonly mode: string;
    readonly dataset: DatasetSpec;
    readonly priority: number;
    readonly min_workers: number;
    readonly max_workers: number | null;
  };
  readonly isPaused: boolean;
}

/** A connected worker with its live statistics (Coordinator's WorkerInfo). */
export type LiveWorkerInfo = WorkerInfo;

/** The coordinator events the run stream listens to, with their arguments. */
export interface CoordinatorApiEvents {
  progress: [LiveRunProgress];
  metrics: [string, readonly { key: string; step: number; value: number }[]];
  checkpoint: [{ runId: string; step: number; reason: string }];
  'run-ended': [string, RunOutcomeView];
}

/** Subscribing to and unsubscribing from the {@link CoordinatorApiEvents} (Coordinator's EventEmitter offers both). */
export interface CoordinatorEventSource {
  on(event: 'progress', listener: (...args: CoordinatorApiEvents['progress']) => void): unknown;
  on(event: 'metrics', listener: (...args: CoordinatorApiEvents['metrics']) => void): unknown;
  on(event: 'checkpoint', listener: (...args: CoordinatorApiEvents['checkpoint']) => void): unknown;
  on(event: 'run-ended', listener: (...args: CoordinatorApiEvents['run-ended']) => void): unknown;
  off(event: 'progress', listener: (...args: CoordinatorApiEvents['progress']) => void): unknown;
  off(event: 'metrics', listener: (...args: CoordinatorApiEvents['metrics']) => void): unknown;
  off(event: 'checkpoint', listener: (...args: CoordinatorApiEvents['checkpoint']) => void): unknown;
  off(event: 'run-ended', listener: (...args: CoordinatorApiEvents['run-ended']) => void): unknown;
}

/** The tracking-store queries the routes run. */
export type ApiTrackingStore = Pick<
  TrackingStore,
  | 'countContributors'
  | 'createRun'
  | 'ensureExperiment'
  | 'findCheckpoint'
  | 'getCheckpoint'
  | 'getDataset'
  | 'getMetricHistoryAfter'
  | 'getParams'
  | 'getRun'
  | 'listCheckpoints'
  | 'listDatasets'
  | 'listEvents'
  | 'listFleet'
  | 'listRuns'
  | 'logMetrics'
  | 'logParams'
  | 'maxMetricByRun'
  | 'runInputs'
  | 'searchRuns'
  | 'setRunProgress'
  | 'setRunStatus'
  | 'summarizeRunMetrics'
>;

/**
 * Everything the HTTP routes need from the coordinator, and nothing more. `Coordinator` satisfies it
 * structurally, so coordinator/http never imports coordinator.ts; tests may pass a fake.
 */
export interface CoordinatorApi {
  /** The tracking database's run, metric, checkpoint, event and fleet queries. */
  readonly store: ApiTrackingStore;
  /** The database the model registry lives in. */
  readonly database: Database;
  /** The data directory (uploaded tables live under `<dataDir>/datasets`). */
  readonly dataDir: string;
  /** Most bytes one uploaded table may have (`--max-upload-mb`). */
  readonly maxUploadBytes: number;
  /** Every run training now, in start order. */
  activeRuns(): readonly ActiveRunView[];
  /** The active session of run `runId`, or null when it is not training here. */
  activeSession(runId: string): ActiveRunView | null;
  /** The run a connected worker serves now (null: idle). */
  runOfWorker(workerId: string): string | null;
  /** Workers connected now. */
  workers(): readonly LiveWorkerInfo[];
  /** Connected shard owners (mode: sharded), by id and name. */
  shardOwners(): readonly { id: string; name: string }[];
  /** The training modes run configs may name. */
  readonly modes: ModeRegistry;
  /** Creates a tracked run from a validated config and trains it beside the active ones; throws at the active-run limit. */
  startRun(config: RunConfig): Promise<TrainingSessionView>;
  /** Continues a stopped or failed run from its latest, best or given-step checkpoint. */
  resumeRun(runId: string, which: 'latest' | 'best' | number): Promise<TrainingSessionView>;
  /** Stops the active run `runId` (checkpointing) and resolves with its outcome. */
  stopRun(runId: string): Promise<RunOutcomeView>;
  /** Holds the active run `runId`: no update is applied until it is unpaused. */
  pauseRun(runId: string): Promise<void>;
  /** Continues the paused active run `runId` in place. */
  unpauseRun(runId: string): Promise<void>;
  /** Progress, metric, checkpoint and end events of the sessions, for the run stream. */
  readonly events: CoordinatorEventSource;
  /** Base URL workers and browsers use. */
  readonly url: string;
  /** The worker join token (shown in the join command of the status page). */
  readonly workerToken: string;
  /** The admin token that every write needs, or null when writes are disabled. */
  readonly adminToken: string | null;
  /** Whether `GET /api/v1/status` shows the worker token to every reader (`--public-join`), not only to admin-token requests. */
  readonly publicJoin: boolean;
  /** The `Host` names HTTP requests may carry (loopback, the bound host, `--allowed-hosts`; `*` allows any); others get 421. */
  readonly allowedHosts: readonly string[];
}
