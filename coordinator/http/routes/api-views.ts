import type { CheckpointView } from '../../../core/api/checkpoints.ts';
import type { MetricSummary, RunSummary } from '../../../core/api/runs.ts';
import type { RunProgress } from '../../../core/api/stream.ts';
import type { CheckpointRecord, MetricSummaryRecord, RunWithExperiment } from '../../../prisma/queries/tracking-store.ts';
import type { LiveRunProgress } from '../coordinator-api.ts';
import { isExternal } from './run-lookup.ts';

/** `v`, or null when it is NaN or infinite (JSON has no such numbers). */
export function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/** A metric summary of the store as the API sends it. */
export function metricSummaryView(m: MetricSummaryRecord): MetricSummary {
  return { last: finiteOrNull(m.last), min: finiteOrNull(m.min), max: finiteOrNull(m.max), lastStep: m.lastStep, count: m.count };
}

/** A run row, its metric summaries and live worker counts as a core/api RunSummary. */
export function runSummaryView(run: RunWithExperiment, metrics: readonly MetricSummaryRecord[], liveWorkers: number | null, contributors: number | null = null): RunSummary {
  const endedOrNow = run.endedAt ?? (run.status === 'running' ? new Date() : null);
  return {
    id: run.id,
    name: run.name,
    description: run.description,
    experiment: run.experiment.name,
    status: run.status,
    mode: run.mode,
    external: isExternal(run),
    step: run.step,
    totalUpdates: run.totalUpdates,
    seed: run.seed,
    createdAt: run.createdAt.toISOString(),
    startedAt: run.startedAt?.toISOString() ?? null,
    endedAt: run.endedAt?.toISOString() ?? null,
    durationMs: run.startedAt && endedOrNow ? endedOrNow.getTime() - run.startedAt.getTime() : null,
    error: run.error,
    liveWorkers,
    contributors,
    metrics: Object.fromEntries(metrics.map((m) => [m.key, metricSummaryView(m)])),
  };
}

/** A checkpoint row as a core/api CheckpointView, with its download URL. */
export function checkpointView(runId: string, ck: CheckpointRecord): CheckpointView {
  return {
    id: ck.id,
    step: ck.step,
    sha256: ck.sha256,
    sizeBytes: ck.sizeBytes,
    isLatest: ck.isLatest,
    isBest: ck.isBest,
    metricValue: ck.metricValue,
    createdAt: ck.createdAt.toISOString(),
    downloadUrl: `/api/v1/runs/${runId}/checkpoints/${ck.id}/download`,
  };
}

/** A session's live progress as a core/api RunProgress (the time as ISO text). */
export function progressView(p: LiveRunProgress): RunProgress {
  return {
    runId: p.runId,
    name: p.name,
    status: p.status,
    step: p.step,
    totalUpdates: p.totalUpdates,
    epoch: p.epoch,
    trainLoss: p.trainLoss,
    evalLoss: p.evalLoss,
    evalAccuracy: p.evalAccuracy,
    bestAccuracy: p.bestAccuracy,
    lr: p.lr,
    samplesPerSec: p.samplesPerSec,
    activeWorkers: p.activeWorkers,
    startedAt: p.startedAt.toISOString(),
  };
}
