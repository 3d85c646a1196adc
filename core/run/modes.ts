import { CrowdtrainError } from '../protocol/errors.ts';
import type { RunConfig } from '../config/common-config.ts';
import type { ModeRegistry, ModeSetup, TrainingMode } from './training-mode.ts';
import { ddpMode } from './ddp/ddp-mode.ts';
import { dilocoMode } from './diloco/diloco-mode.ts';
import { fedavgMode } from './fedavg/fedavg-mode.ts';
import { shardedMode } from './sharded/sharded-mode.ts';

/**
 * The training modes this build ships: the one list the config's `mode` enum, the tracking store
 * and the dashboard derive from. A new mode is one file plus one line here.
 */
export const TRAINING_MODES = {
  ddp: ddpMode,
  diloco: dilocoMode,
  fedavg: fedavgMode,
  sharded: shardedMode,
} satisfies ModeRegistry;

/** The mode a config without `mode:` trains with, and the mode of checkpoints written before modes existed. */
export const DEFAULT_MODE = 'ddp' satisfies ModeName;

/** `Run.mode` of a run that an external script tracks (no mode of this registry trains it). */
export const EXTERNAL_RUN_MODE = 'external';

/** A built-in mode's name. */
export type ModeName = keyof typeof TRAINING_MODES;

/** The built-in mode names, in registry order. */
export const MODE_NAMES = Object.keys(TRAINING_MODES) as [ModeName, ...ModeName[]];

/** The mode a config names; CrowdtrainError('INVALID_CONFIG') listing the registered ones when it is unknown. */
export function modeOf(config: Pick<RunConfig, 'mode'>, registry: ModeRegistry = TRAINING_MODES): TrainingMode {
  const mode = Object.hasOwn(registry, config.mode) ? registry[config.mode] : undefined;
  if (!mode) {
    throw new CrowdtrainError('INVALID_CONFIG', `mode "${config.mode}" is not one of ${Object.keys(registry).join(', ')}`);
  }
  return mode;
}

/** Everything a mode is built from: its parsed options section plus the run's sizes. */
export function modeSetup(mode: TrainingMode, config: RunConfig, sizes: { datasetSize: number; paramCount: number }): ModeSetup {
  const section = (config as Record<string, unknown>)[mode.name];
  return { config, options: mode.optionsSchema.parse(section ?? {}), ...sizes };
}
