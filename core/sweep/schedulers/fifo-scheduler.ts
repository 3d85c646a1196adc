import { z } from 'zod';
import type { SchedulerDecision, TrialScheduler } from './trial-scheduler.ts';
import { parseSchedulerState } from './trial-scheduler.ts';

/** FIFO has no options. */
export const FifoSchedulerOptionsSchema = z.strictObject({});

const FifoStateSchema = z.strictObject({ scheduler: z.literal('fifo') });

/** Runs every trial to the end (Ray Tune's FIFOScheduler): no early stopping. */
export class FifoScheduler implements TrialScheduler {
  readonly name = 'fifo';
  onTrialAdd(): void {}
  onResult(_trialId: string, _step: number, value: number): SchedulerDecision {
    return Number.isFinite(value) ? 'continue' : 'stop';
  }
  onTrialEnd(): void {}
  state(): z.infer<typeof FifoStateSchema> {
    return { scheduler: 'fifo' };
  }
  load(state: unknown): void {
    parseSchedulerState(FifoStateSchema, state, 'fifo');
  }
}
