import createDebug from 'debug';
import type { RunConfig } from '../../core/config/run-config.ts';
import { CrowdtrainError } from '../../core/protocol/errors.ts';
import type { Suggestion } from '../../core/sweep/search-space.ts';
import { createScheduler, createSearcher, trialRunConfig, type SweepConfig } from '../../core/sweep/sweep-config.ts';
import type { Searcher } from '../../core/sweep/searchers/index.ts';
import type { TrialScheduler } from '../../core/sweep/schedulers/index.ts';

const debug = createDebug('crowdtrain:sweep');

/** A metric point as the trial backend reports it. */
export interface TrialMetricPoint {
  key: string;
  step: number;
  value: number;
}

/** A started trial run: its id and a promise of how it ended. */
export interface TrialRunHandle {
  runId: string;
  done: Promise<{ status: 'finished' | 'stopped' | 'failed'; step: number; reason: string }>;
}

/**
 * What a sweep needs from whatever trains its trials (the Coordinator, through
 * {@link coordinatorTrialBackend}): start a run, stop one, and hear every run's metric points.
 */
export interface TrialBackend {
  startRun(config: RunConfig): Promise<TrialRunHandle>;
  stopRun(runId: string, detail: string): Promise<unknown>;
  /** Subscribes to metric points of every run; returns the unsubscribe function. */
  onMetrics(listener: (runId: string, points: readonly TrialMetricPoint[]) => void): () => void;
  /** Records a sweep event on the trial's run (the tracking store's Event log); optional. */
  recordEvent?(runId: string, kind: string, detail: Record<string, unknown>): Promise<unknown>;
}

/** One trial of a sweep as the runner reports it. */
export interface TrialSummary {
  trialId: string;
  index: number;
  runId: string;
  params: Suggestion;
  status: 'running' | 'finished' | 'stopped' | 'failed';
  /** The step at which the scheduler stopped it (null: not stopped by the scheduler). */
  stoppedAt: number | null;
  /** The last reported value of the sweep's metric (what the searcher observes) and its step. */
  lastValue: number | null;
  lastStep: number | null;
  /** The best reported value of the metric (by the sweep's mode). */
  bestValue: number | null;
}

/** What a finished sweep returns. */
export interface SweepOutcome {
  trials: TrialSummary[];
  /** The trial with the best `bestValue`, or null when no trial reported the metric. */
  best: TrialSummary | null;
}

/** Options of a {@link SweepRunner}. */
export interface SweepRunnerOptions {
  /** Called after each trial is linked to its run (e.g. to set Run.sweepId). */
  onTrialStarted?: (trial: TrialSummary) => Promise<void> | void;
}

/**
 * Drives one sweep: keeps up to `max_concurrent` trials running, each a run built from the
 * searcher's suggestion; feeds every point of the sweep's metric to the scheduler and stops a trial
 * it says to stop; when a trial ends, the searcher observes its last metric value and the next trial
 * starts, until `trials` trials have run (or the searcher has nothing left). PBT's exploit decisions
 * are refused: starting a run from another run's checkpoint is not built yet (docs/sweeps.md).
 */
export class SweepRunner {
  private readonly searcher: Searcher;
  private readonly scheduler: TrialScheduler;
  private readonly trials: TrialSummary[] = [];
  private readonly byRun = new Map<string, TrialSummary>();
  /** Points of runs whose start has not resolved yet (a fast run may report before startRun returns). */
  private readonly early = new Map<string, TrialMetricPoint[]>();
  private starting = 0;
  /** Each trial's total_updates: a scheduler's stop at or past it is the trial's natural end, not an early stop. */
  private readonly lengths = new Map<string, number>();

  constructor(private readonly sweep: SweepConfig, private readonly backend: TrialBackend, private readonly options: SweepRunnerOptions = {}) {
    if (sweep.scheduler.type === 'pbt') {
      throw new CrowdtrainError('INVALID_CONFIG', 'scheduler pbt: the sweep runner cannot yet start a trial from another trial\'s checkpoint (see docs/sweeps.md); use fifo, asha or median');
    }
    this.searcher = createSearcher(sweep);
    this.scheduler = createScheduler(sweep);
  }

  /** Runs the sweep to its end. */
  async run(): Promise<SweepOutcome> {
    const unsubscribe = this.backend.onMetrics((runId, points) => this.onPoints(runId, points));
    try {
      const running = new Set<Promise<void>>();
      let exhausted = false;
      while (true) {
        while (!exhausted && running.size < this.sweep.max_concurrent && this.trials.length < this.sweep.trials) {
          const trial = await this.startTrial();
          if (!trial) {
            exhausted = true;
            break;
          }
          const p: Promise<void> = this.awaitTrial(trial).finally(() => running.delete(p));
          running.add(p);
        }
        if (running.size === 0) break;
        await Promise.race(running);
      }
    } finally {
      unsubscribe();
    }
    return { trials: this.trials.map((t) => ({ ...t })), best: this.bestTrial() };
  }

  /** The searcher's and scheduler's states (plain JSON), for persisting a sweep. */
  state(): { searcher: unknown; scheduler: unknown } {
    return { searcher: this.searcher.state(), scheduler: this.scheduler.state() };
  }

  private async startTrial(): Promise<{ trial: TrialSummary; handle: TrialRunHandle } | null> {
    const index = this.trials.length;
    const trialId = `t${index}`;
    const params = this.searcher.suggest(trialId);
    if (!params) return null;
    const config = trialRunConfig(this.sweep, params, index);
    this.starting++;
    let handle: TrialRunHandle;
    try {
      handle = await this.backend.startRun(config);
    } catch (err) {
      this.starting--;
      this.searcher.observe(trialId, null);
      throw err;
    }
    this.starting--;
    const trial: TrialSummary = { trialId, index, runId: handle.runId, params, status: 'running', stoppedAt: null, lastValue: null, lastStep: null, bestValue: null };
    this.trials.push(trial);
    this.byRun.set(handle.runId, trial);
    this.lengths.set(trialId, config.total_updates);
    this.scheduler.onTrialAdd(trialId, params);
    debug('sweep %s: trial %s is run %s with %o', this.sweep.name, trialId, handle.runId, params);
    await this.options.onTrialStarted?.(trial);
    await this.backend.recordEvent?.(handle.runId, 'sweep_trial_started', { sweep: this.sweep.name, trial: trialId, params });
    const early = this.early.get(handle.runId);
    this.early.delete(handle.runId);
    if (early) this.onPoints(handle.runId, early);
    if (this.starting === 0) this.early.clear();
    return { trial, handle };
  }

  private async awaitTrial({ trial, handle }: { trial: TrialSummary; handle: TrialRunHandle }): Promise<void> {
    const outcome = await handle.done;
    trial.status = outcome.status;
    this.scheduler.onTrialEnd(trial.trialId);
    this.searcher.observe(trial.trialId, outcome.status === 'failed' ? null : trial.lastValue);
    await this.backend.recordEvent?.(trial.runId, 'sweep_trial_ended', { trial: trial.trialId, status: trial.status, value: trial.lastValue, stoppedAt: trial.stoppedAt });
  }

  private onPoints(runId: string, points: readonly TrialMetricPoint[]): void {
    const trial = this.byRun.get(runId);
    if (!trial) {
      if (this.starting > 0) this.early.set(runId, [...(this.early.get(runId) ?? []), ...points]);
      return;
    }
    const mine = points.filter((p) => p.key === this.sweep.metric).sort((a, b) => a.step - b.step);
    for (const p of mine) {
      if (trial.status !== 'running' || trial.stoppedAt !== null) return;
      trial.lastValue = p.value;
      trial.lastStep = p.step;
      if (trial.bestValue === null || (this.sweep.mode === 'min' ? p.value < trial.bestValue : p.value > trial.bestValue)) trial.bestValue = p.value;
      const decision = this.scheduler.onResult(trial.trialId, p.step, p.value);
      if (decision === 'stop' && p.step >= this.lengths.get(trial.trialId)!) {
        // ASHA's max_t equal to total_updates: the run ends here by itself.
      } else if (decision === 'stop') {
        trial.stoppedAt = p.step;
        debug('sweep %s: scheduler stops trial %s at step %d', this.sweep.name, trial.trialId, p.step);
        void this.stopTrial(trial, p.step);
      } else if (decision !== 'continue') {
        throw new CrowdtrainError('INTERNAL', `scheduler ${this.scheduler.name} asked trial ${trial.trialId} to exploit ${decision.exploit}: not supported by the sweep runner`);
      }
    }
  }

  private async stopTrial(trial: TrialSummary, step: number): Promise<void> {
    try {
      await this.backend.recordEvent?.(trial.runId, 'sweep_trial_stopped', { trial: trial.trialId, step, scheduler: this.scheduler.name, value: trial.lastValue });
      await this.backend.stopRun(trial.runId, `stopped by the ${this.scheduler.name} scheduler at step ${step}`);
    } catch (err) {
      // The run may have ended on its own meanwhile (NO_ACTIVE_RUN): its done promise still resolves.
      debug('sweep %s: stopping trial %s: %O', this.sweep.name, trial.trialId, err);
    }
  }

  private bestTrial(): TrialSummary | null {
    let best: TrialSummary | null = null;
    for (const t of this.trials) {
      if (t.bestValue === null) continue;
      if (!best || (this.sweep.mode === 'min' ? t.bestValue < best.bestValue! : t.bestValue > best.bestValue!)) best = t;
    }
    return best ? { ...best } : null;
  }
}
