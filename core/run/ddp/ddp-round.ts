/**
 * One round (update) of the DDP machine: who holds which slice, who answered it, the backups in
 * flight and the round's clock. Shared by the machine, its backup tasks and its slice weighting.
 */

/** One worker's accepted results of a round, merged (its own slice, and a backup slice it answered): sample-weighted means. */
export interface Answered {
  sampleCount: number;
  loss: number;
  accuracy: number;
}

/** The state of the round in collection. */
export interface Round {
  step: number;
  epoch: number;
  /** The round's slices by the worker first given them; a slice that went back to the sampler is removed. */
  slices: Map<string, number[]>;
  /** Who answered each slice (by its first holder): itself, or the member that ran its backup. */
  answeredBy: Map<string, string>;
  /** Accepted results by the worker that sent them. */
  results: Map<string, Answered>;
  /** Backup tasks in flight: backup worker -> the first holder of the slice it runs. */
  backups: Map<string, string>;
  /** First holders that left or were refused while their slice's backup runs: the backup alone can answer it. */
  orphaned: Set<string>;
  /** First holders (orphaned) whose slice waits for a member free to take it over, in the order they left. */
  waiting: string[];
  /** Elapsed ms of the results of workers' own slices (the round's slice times). */
  elapsed: number[];
  /** Workers in the order their own slice was answered (the first are the preferred backups). */
  finishOrder: string[];
  /** Whether any backup was assigned in this round. */
  hadBackup: boolean;
  /** Round time (ms since assignment) of the wake-up asked for, if one is pending. */
  wakeAtMs: number | null;
  /** The latest round time the machine learned (from a result's elapsed time or a wake-up). */
  nowMs: number;
}

/** A fresh round of `step` with its slices assigned. */
export function newRound(step: number, epoch: number, slices: Map<string, number[]>): Round {
  return {
    step,
    epoch,
    slices,
    answeredBy: new Map(),
    results: new Map(),
    backups: new Map(),
    orphaned: new Set(),
    waiting: [],
    elapsed: [],
    finishOrder: [],
    hadBackup: false,
    wakeAtMs: null,
    nowMs: 0,
  };
}
