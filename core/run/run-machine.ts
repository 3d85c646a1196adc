/**
 * The contract between a mode's pure run machine and the coordinator's shell: events in, effects
 * out, no I/O and no timers. The shell performs the effects (messages, the update rule, the
 * database) and feeds what happened back in as events. Every mode's machine speaks these types,
 * so the shell never asks which mode it runs.
 */

/** Phases a run machine reports; `collecting` is the only one in which results are accepted. */
export type RunPhase = 'waiting' | 'collecting' | 'applying' | 'paused' | 'finished';

/** Why a run was asked to stop. */
export type StopReason = 'stopped' | 'time_limit' | 'signal' | 'failed';

/** Events the shell feeds into a machine. */
export type RunEvent =
  | { type: 'start' }
  /** A worker is ready for the run; `maxBatch` is the most samples it said one slice may have (its hello's `capabilities.maxBatch`). */
  | { type: 'workerReady'; workerId: string; maxBatch?: number }
  | { type: 'workerLeft'; workerId: string; reason: string }
  /** A worker's result for its assignment passed validation (a gradient in ddp). */
  | {
      type: 'resultAccepted';
      workerId: string;
      step: number;
      sampleCount: number;
      loss: number;
      accuracy: number;
      /** Time from the round's assignment to this result, as the shell measured it (the worker's speed). */
      elapsedMs?: number;
    }
  /** A worker's result was rejected, or the worker declined the assignment. */
  | { type: 'resultRejected'; workerId: string; step: number; code: string; reason: string }
  | { type: 'deadline'; step: number }
  /** The wake-up a machine asked for with an `armWake` effect is due (the round of `step` may be over). */
  | { type: 'wake'; step: number }
  | { type: 'updateApplied'; step: number }
  | { type: 'stop'; reason: StopReason; detail?: string }
  /** Hold training without ending the run: the current round is abandoned (its samples go back). */
  | { type: 'pause' }
  /** Continue a paused run. */
  | { type: 'unpause' };

/** One worker's part of a round: the sample indices its task runs on. */
export interface Assignment {
  workerId: string;
  indices: number[];
}

/** One accepted result, as the machine hands it to the update rule. */
export interface Contribution {
  workerId: string;
  sampleCount: number;
  loss: number;
  accuracy: number;
}

/** Why a checkpoint is written. */
export type CheckpointReason = 'periodic' | 'final' | 'time_limit' | 'signal' | 'stopped';

/**
 * The serialisable part of a machine that goes into checkpoints: at least the number of applied
 * updates; the rest (sampler state, round counters) is the mode's own JSON.
 */
export interface MachineSnapshot {
  step: number;
  [key: string]: unknown;
}

/** Effects the shell must perform, in order. */
export type RunEffect =
  /**
   * Sends assignments. `backup: true` adds tasks to the round in progress (a late slice given to
   * another member as well): the round's other assignments and results stand.
   */
  | { type: 'assign'; step: number; epoch: number; paramsVersion: number; assignments: Assignment[]; backup?: boolean }
  | { type: 'armDeadline'; step: number }
  /** Dispatch a `wake` event for `step` after `afterMs`; a new one replaces the pending one, and applying the update cancels it. */
  | { type: 'armWake'; step: number; afterMs: number }
  /**
   * Runs the update rule on the contributions. `slices`, when given, are the slices whose results
   * went into the update (a worker's contribution may cover its own slice and a backup slice).
   */
  | { type: 'applyUpdate'; step: number; epoch: number; contributions: Contribution[]; slices?: Assignment[] }
  | { type: 'evaluate'; step: number }
  | {
      type: 'checkpoint';
      step: number;
      reason: CheckpointReason;
      /** The machine's state at this point (taken before the next round draws its batch). */
      snapshot: MachineSnapshot;
    }
  | { type: 'evict'; workerId: string; reason: string }
  | { type: 'record'; kind: string; workerId?: string; detail: Record<string, unknown> }
  | { type: 'finished'; status: 'finished' | 'stopped' | 'failed'; step: number; reason: string };

/** A mode's pure run machine, as the shell drives it. */
export interface RunMachine {
  /** Current phase. */
  readonly currentPhase: RunPhase;
  /** Updates applied so far (= the version of the master parameters). */
  readonly step: number;
  /** The data epoch the run is in. */
  readonly epoch: number;
  /** Workers currently taking part, in join order. */
  readonly activeWorkers: readonly string[];
  /** The sample indices a worker holds in the current round, if any (results are accepted only for these). */
  sliceOf(workerId: string): readonly number[] | undefined;
  /** The serialisable state now; checkpoint effects carry the one taken at the right moment. */
  snapshot(): MachineSnapshot;
  /** Feeds one event in; returns the effects to perform, in order. */
  dispatch(event: RunEvent): RunEffect[];
}
