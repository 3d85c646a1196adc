'use client';

import { useEffect, useState } from 'react';
import { FeatureImportanceSchema, type FeatureImportance } from '../../core/api/feature-importance.ts';
import { getJson } from './fetch-api.ts';

/** Width of a bar, as a percentage of the largest accuracy drop (0 for a drop of 0 or below). */
export function barPercent(value: number, largest: number): number {
  if (!(largest > 0) || !(value > 0)) return 0;
  return Math.min(100, (value / largest) * 100);
}

/**
 * The run page's feature importance section: one horizontal bar per source column of a csv data
 * set — the mean accuracy drop when the column is permuted on the test split, with its standard
 * deviation as a whisker — read from `GET /api/v1/runs/:id/feature-importance`. Renders nothing
 * unless the route answers 200 (runs on csv data sets that finished).
 */
export function FeatureImportanceSection({ runId, status }: { runId: string; status: string }) {
  const [fi, setFi] = useState<FeatureImportance | null>(null);

  useEffect(() => {
    if (status !== 'finished') return;
    const abort = new AbortController();
    getJson(`/api/v1/runs/${encodeURIComponent(runId)}/feature-importance`, FeatureImportanceSchema, abort.signal)
      .then(setFi)
      .catch(() => setFi(null));
    return () => abort.abort();
  }, [runId, status]);

  if (!fi) return null;
  const largest = Math.max(0, ...fi.columns.map((c) => c.accuracy_drop_mean + c.accuracy_drop_std));
  return (
    <section className="rounded-xl border border-slate-200 bg-white p-5 shadow-sm" data-testid="run-feature-importance">
      <h2 className="mb-1 text-base font-semibold text-slate-900">Feature importance</h2>
      <p className="mb-3 text-xs text-slate-500">
        Drop of test accuracy (baseline {fi.baseline.accuracy.toFixed(3)}) when a column is shuffled, mean ± std over {fi.repeats} permutations, at step {fi.step.toLocaleString('en-US')}
        {fi.truncated ? `; the first ${fi.columns.length} of ${fi.total_columns} columns only` : ''}.
      </p>
      <ul className="space-y-1 text-sm">
        {fi.columns.map((c) => {
          const left = barPercent(c.accuracy_drop_mean - c.accuracy_drop_std, largest);
          const right = barPercent(c.accuracy_drop_mean + c.accuracy_drop_std, largest);
          return (
            <li key={c.column} className="grid grid-cols-[10rem_1fr_6rem] items-center gap-3">
              <span className="truncate font-medium text-slate-800" title={c.column}>
                {c.column}
              </span>
              <div className="relative h-4 rounded bg-slate-100">
                <div className="absolute inset-y-0 left-0 rounded bg-blue-600" style={{ width: `${barPercent(c.accuracy_drop_mean, largest).toFixed(2)}%` }} />
                <div className="absolute top-1/2 h-px bg-slate-900" style={{ left: `${left.toFixed(2)}%`, width: `${(right - left).toFixed(2)}%` }} />
              </div>
              <span className="text-right tabular-nums text-slate-600" title={`loss rise ${c.loss_rise_mean.toFixed(4)} ± ${c.loss_rise_std.toFixed(4)}`}>
                {c.accuracy_drop_mean.toFixed(3)} ± {c.accuracy_drop_std.toFixed(3)}
              </span>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
