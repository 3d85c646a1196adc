import type { Coordinator } from '../coordinator.ts';
import type { TrialBackend } from './sweep-runner.ts';

/**
 * The Coordinator as a sweep's trial backend: each trial is a run started beside the others
 * (placement shares the fleet), stopped gracefully through `stopRun`, heard through the
 * coordinator's 'metrics' events, and sweep decisions are Events on the trial's run.
 */
export function coordinatorTrialBackend(coordinator: Coordinator): TrialBackend {
  return {
    async startRun(config) {
      const session = await coordinator.startRun(config);
      // A sharded trial that rewinds to a checkpoint is still the same trial: its final outcome counts.
      return { runId: session.runId, done: coordinator.outcomeOf(session) };
    },
    stopRun: (runId, detail) => coordinator.stopRun(runId, detail),
    onMetrics(listener) {
      coordinator.events.on('metrics', listener);
      return () => coordinator.events.off('metrics', listener);
    },
    recordEvent: (runId, kind, detail) => coordinator.store.recordEvent({ runId, kind, detail }),
  };
}
