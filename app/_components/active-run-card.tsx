import type { StatusRun } from '../../core/api/status.ts';
import { formatNumber, formatPercent, formatScalar, formatDateTime, progressFraction } from '../status-format.ts';
import { StatusBadge } from './status-badge.tsx';

function Metric({ label, value }: { label: string; value: string }) {
  return (
    <div className="rounded-lg bg-slate-50 px-3 py-2">
      <dt className="text-xs font-medium uppercase tracking-wide text-slate-500">{label}</dt>
      <dd className="mt-1 font-mono text-lg text-slate-900 tabular-nums">{value}</dd>
    </div>
  );
}

/** An active run: identity, placement (priority, workers serving it against its min/max), progress bar over step/totalUpdates, and its latest metrics. */
export function ActiveRunCard({ run, workers }: { run: StatusRun; workers: number }) {
  const fraction = progressFraction(run.step, run.totalUpdates);
  return (
    <section aria-labelledby={`active-run-${run.runId}`} data-run-id={run.runId} className="rounded-xl border border-slate-200 bg-white p-5 shadow-sm">
      <div className="flex flex-wrap items-baseline justify-between gap-2">
        <div>
          <h2 id={`active-run-${run.runId}`} className="text-lg font-semibold text-slate-900">
            {run.name}
          </h2>
          <p className="text-sm text-slate-500">
            {run.experiment} · {run.mode} · started {formatDateTime(run.startedAt)}
          </p>
          <p className="text-sm text-slate-500" data-testid="run-placement">
            {workers} worker{workers === 1 ? '' : 's'} (min {run.minWorkers}, max {run.maxWorkers ?? 'any'}) · priority {run.priority}
          </p>
        </div>
        <StatusBadge status={run.status} />
      </div>

      <div className="mt-4">
        <div className="flex justify-between text-sm text-slate-600">
          <span>
            step {formatNumber(run.step)} / {formatNumber(run.totalUpdates)}
          </span>
          <span className="tabular-nums">{fraction === null ? '' : formatPercent(fraction)}</span>
        </div>
        <div
          role="progressbar"
          aria-label="training progress"
          aria-valuemin={0}
          aria-valuemax={run.totalUpdates}
          aria-valuenow={run.step}
          className="mt-1 h-2.5 overflow-hidden rounded-full bg-slate-200"
        >
          <div className="h-full rounded-full bg-indigo-500 transition-[width] duration-500" style={{ width: `${(fraction ?? 0) * 100}%` }} />
        </div>
      </div>

      <dl className="mt-4 grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-6">
        <Metric label="Epoch" value={formatNumber(run.epoch)} />
        <Metric label="Train loss" value={formatScalar(run.trainLoss)} />
        <Metric label="Eval loss" value={formatScalar(run.evalLoss)} />
        <Metric label="Eval accuracy" value={formatPercent(run.evalAccuracy)} />
        <Metric label="Learning rate" value={formatScalar(run.lr)} />
        <Metric label="Samples/s" value={formatNumber(run.samplesPerSec, 1)} />
      </dl>
    </section>
  );
}
