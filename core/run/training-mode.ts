import type { z } from 'zod';
import type { RunConfig } from '../config/common-config.ts';
import type { OptimizerState } from '../optim/optimizer-state.ts';
import type { Contribution, MachineSnapshot, RunMachine } from './run-machine.ts';
import type { ShardOwners } from '../shard/shard-owners.ts';

/** What a mode is built from: the validated run config, its own options section, and the run's sizes. */
export interface ModeSetup<Options = unknown> {
  config: RunConfig;
  /** The parsed options section of this mode (`config[mode.name]`, defaults filled). */
  options: Options;
  /** Samples in the train split. */
  datasetSize: number;
  /** Float32 values in the flat parameter vector. */
  paramCount: number;
  /** The model's tensors in the flat vector (offset and size each), for modes that split it by layer. */
  layout?: { entries: readonly { name: string; offset: number; size: number }[] };
  /** What the coordinator offers a mode beyond the run: the shard owners, for `sharded`. */
  services?: ModeServices;
}

/** Coordinator services a mode may use; absent where the caller (a unit test, a bench) has none. */
export interface ModeServices {
  /** The run's id (what a mode names the run by to processes outside the coordinator). */
  runId: string;
  /** The shard owners connected to this coordinator (core/shard/shard-owners.ts). */
  shardOwners?: ShardOwners;
}

/** One accepted worker result: its statistics and its decoded vector (`paramCount` values). */
export interface WorkerResult extends Contribution {
  values: Float32Array;
}

/** What applying one round did, for tracking: the learning rate and any scalar the rule reports. */
export interface UpdateOutcome {
  lr: number;
  /** Extra scalars logged as metrics at the new step, e.g. `{ grad_norm: 0.8 }`. */
  metrics: Record<string, number>;
  /** Events the rule reports with this update (e.g. a shard owner change), recorded on the run. */
  events?: RuleEvent[];
}

/** An Event an update rule reports: its kind and detail, recorded on the run as any other Event. */
export interface RuleEvent {
  kind: string;
  detail: Record<string, unknown>;
}

/**
 * The server half of a mode (Flower's `aggregate_fit`): turns one round's accepted results into
 * the next parameters, in place, and owns the state a checkpoint must keep (the optimizer's).
 * A rule whose state lives elsewhere (the shard owners of `sharded`) answers with promises.
 */
export interface UpdateRule {
  /**
   * Applies round `step` (0-based) to `params` in place. `scratch`, when given, is a
   * `paramCount`-long buffer the rule may reduce into (an arena slot, for the SIMD path).
   */
  apply(params: Float32Array, results: readonly WorkerResult[], step: number, scratch?: Float32Array): UpdateOutcome | Promise<UpdateOutcome>;
  /** A deep copy of the rule's state for a checkpoint. */
  state(): OptimizerState | Promise<OptimizerState>;
  /** Restores `state()` from a checkpoint; CrowdtrainError('CHECKPOINT_INVALID') when it does not fit. */
  load(state: OptimizerState): void;
  /** The run ended: release what the rule holds outside this process (optional). */
  dispose?(): void;
}

/** An update rule that holds its state in this process and answers at once (ddp, fedavg, diloco). */
export interface LocalUpdateRule extends UpdateRule {
  apply(params: Float32Array, results: readonly WorkerResult[], step: number, scratch?: Float32Array): UpdateOutcome;
  state(): OptimizerState;
}

/** The worker task a mode asks for (Flower's `configure_fit`): a kind from the worker's task registry and its options. */
export interface TaskSpec {
  kind: string;
  options: Record<string, unknown>;
}

/**
 * A training mode: one entry of the registry in `core/run/modes.ts`. Its options schema, its pure
 * run machine, its server update rule and the worker task it needs; checkpoints hold the
 * machine's snapshot and the rule's state. Nothing outside the registry switches on a mode name.
 * @example
 * export const ddpMode = defineMode({ name: 'ddp', summary: '…', optionsSchema: z.object({}).strict(),
 *   createMachine: (s, snap) => …, createUpdateRule: (s) => …, workerTask: () => ({ kind: 'gradient', options: {} }) });
 */
export interface TrainingMode<Options = unknown> {
  /** The `mode:` value in run configs. */
  readonly name: string;
  /** One line for `--help`, docs and the dashboard. */
  readonly summary: string;
  /** Schema of the config section named after the mode (`<name>: {...}`); an absent section parses `{}`. */
  readonly optionsSchema: z.ZodType<Options>;
  /** The pure run machine, fresh or restored from a checkpoint's snapshot (CrowdtrainError('CHECKPOINT_INVALID') if it does not fit). */
  createMachine(setup: ModeSetup<Options>, snapshot?: MachineSnapshot): RunMachine;
  /** The server update rule with fresh state. */
  createUpdateRule(setup: ModeSetup<Options>): UpdateRule;
  /** The task every worker of this run runs on its assignments. */
  workerTask(setup: ModeSetup<Options>): TaskSpec;
}

/** Types a mode definition (and infers its options type). */
export function defineMode<Options>(mode: TrainingMode<Options>): TrainingMode<Options> {
  return mode;
}

/** A registry of modes by name; `core/run/modes.ts` holds the built-in one. */
export type ModeRegistry = Readonly<Record<string, TrainingMode>>;
