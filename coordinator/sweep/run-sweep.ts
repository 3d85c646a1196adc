import type { SweepConfig } from '../../core/sweep/sweep-config.ts';
import type { Database } from '../../prisma/db.ts';
import { SweepQueries } from '../../prisma/queries/sweep-queries.ts';
import { SweepRunner, type SweepOutcome, type TrialBackend, type TrialSummary } from './sweep-runner.ts';

/** A sweep that ran (or failed) as a tracked Sweep row. */
export interface TrackedSweepOutcome extends SweepOutcome {
  sweepId: string;
}

/**
 * Runs a validated sweep as a tracked `Sweep` (one row; every trial's run linked to it as it
 * starts; status running, then finished or failed) on `backend` (the coordinator's fleet:
 * coordinatorTrialBackend). `onTrial` reports each trial as it starts.
 * @example const { best } = await runTrackedSweep(db, sweep, coordinatorTrialBackend(coordinator));
 */
export async function runTrackedSweep(db: Database, sweep: SweepConfig, backend: TrialBackend, onTrial?: (trial: TrialSummary) => void): Promise<TrackedSweepOutcome> {
  const queries = new SweepQueries(db.prisma);
  // The runner refuses what it cannot run (pbt) before a row exists.
  let sweepId: string | null = null;
  const runner = new SweepRunner(sweep, backend, {
    onTrialStarted: async (trial) => {
      onTrial?.(trial);
      if (sweepId) await queries.linkTrialRun(sweepId, trial.runId);
    },
  });
  const algorithm = `${sweep.searcher.type}+${sweep.scheduler.type}`;
  sweepId = (await queries.createSweep({ name: sweep.name, searchSpace: sweep.space, algorithm, metric: sweep.metric, mode: sweep.mode })).id;
  await queries.setSweepStatus(sweepId, 'running');
  try {
    const outcome = await runner.run();
    await queries.setSweepStatus(sweepId, 'finished');
    return { ...outcome, sweepId };
  } catch (err) {
    await queries.setSweepStatus(sweepId, 'failed');
    throw err;
  }
}
