'use client';

import { useEffect, useMemo, useState } from 'react';
import { EVALUATION_REPORT_EVENT, EvaluationReportSchema, type EvaluationReport } from '../../core/api/evaluation-report.ts';
import type { RunEvent } from '../../core/api/index.ts';
import { getJson } from './fetch-api.ts';

/** Most classes whose confusion matrix the page draws (larger ones: the per-class table only; the API has the matrix). */
const MAX_MATRIX_CLASSES = 50;

/** The steps of a run's evaluation reports, in the order they were recorded (each step once). */
export function evaluationSteps(events: readonly RunEvent[]): number[] {
  const steps: number[] = [];
  for (const e of events) {
    if (e.kind !== EVALUATION_REPORT_EVENT) continue;
    const step = (e.detail as { step?: unknown } | null)?.step;
    if (typeof step === 'number' && !steps.includes(step)) steps.push(step);
  }
  return steps;
}

/** Each cell's share of its row (the true class's samples); 0 in an empty row. */
export function rowShares(confusion: readonly (readonly number[])[]): number[][] {
  return confusion.map((row) => {
    const total = row.reduce((a, v) => a + v, 0);
    return row.map((v) => (total === 0 ? 0 : v / total));
  });
}

const score = (v: number) => v.toFixed(3);

function ConfusionMatrix({ report }: { report: EvaluationReport }) {
  const shares = rowShares(report.confusion);
  return (
    <div className="overflow-x-auto">
      <table className="text-sm" data-testid="confusion-matrix">
        <thead className="text-left text-xs uppercase tracking-wide text-slate-500">
          <tr>
            <th className="py-2 pr-4">True \ predicted</th>
            {report.classes.map((c) => (
              <th key={c} className="px-2 py-2 text-right normal-case">
                {c}
              </th>
            ))}
            <th className="py-2 pl-4 text-right">Support</th>
          </tr>
        </thead>
        <tbody>
          {report.confusion.map((row, t) => (
            <tr key={report.classes[t]}>
              <th scope="row" className="py-1 pr-4 text-left font-medium text-slate-800">
                {report.classes[t]}
              </th>
              {row.map((v, p) => {
                const share = shares[t]?.[p] ?? 0;
                return (
                  <td
                    key={p}
                    className={`px-2 py-1 text-right tabular-nums ${share > 0.5 ? 'text-white' : 'text-slate-800'}`}
                    style={{ backgroundColor: `rgba(37, 99, 235, ${share.toFixed(3)})` }}
                    title={`${v} of ${report.per_class[t]?.support ?? 0} ${report.classes[t] ?? ''} samples predicted ${report.classes[p] ?? ''} (${(share * 100).toFixed(1)}%)`}
                  >
                    {v.toLocaleString('en-US')}
                  </td>
                );
              })}
              <td className="py-1 pl-4 text-right tabular-nums text-slate-600">{(report.per_class[t]?.support ?? 0).toLocaleString('en-US')}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="mt-1 text-xs text-slate-500">Rows: true class; columns: predicted class; shading: share of the row.</p>
    </div>
  );
}

function ScoresTable({ report }: { report: EvaluationReport }) {
  const averages = [
    ['macro avg', report.macro],
    ['weighted avg', report.weighted],
  ] as const;
  return (
    <div className="overflow-x-auto">
      <table className="min-w-full text-sm" data-testid="classification-report">
        <thead className="text-left text-xs uppercase tracking-wide text-slate-500">
          <tr>
            <th className="py-2 pr-4">Class</th>
            <th className="py-2 pr-4 text-right">Precision</th>
            <th className="py-2 pr-4 text-right">Recall</th>
            <th className="py-2 pr-4 text-right">F1</th>
            <th className="py-2 pr-4 text-right">Support</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {report.per_class.map((c) => (
            <tr key={c.class}>
              <td className="py-2 pr-4 font-medium">{c.class}</td>
              <td className="py-2 pr-4 text-right tabular-nums">{score(c.precision)}</td>
              <td className="py-2 pr-4 text-right tabular-nums">{score(c.recall)}</td>
              <td className="py-2 pr-4 text-right tabular-nums">{score(c.f1)}</td>
              <td className="py-2 pr-4 text-right tabular-nums">{c.support.toLocaleString('en-US')}</td>
            </tr>
          ))}
        </tbody>
        <tfoot className="border-t border-slate-200 font-medium">
          <tr>
            <td className="py-2 pr-4">accuracy</td>
            <td />
            <td />
            <td className="py-2 pr-4 text-right tabular-nums">{score(report.accuracy)}</td>
            <td className="py-2 pr-4 text-right tabular-nums">{report.macro.support.toLocaleString('en-US')}</td>
          </tr>
          {averages.map(([name, avg]) => (
            <tr key={name}>
              <td className="py-2 pr-4">{name}</td>
              <td className="py-2 pr-4 text-right tabular-nums">{score(avg.precision)}</td>
              <td className="py-2 pr-4 text-right tabular-nums">{score(avg.recall)}</td>
              <td className="py-2 pr-4 text-right tabular-nums">{score(avg.f1)}</td>
              <td className="py-2 pr-4 text-right tabular-nums">{avg.support.toLocaleString('en-US')}</td>
            </tr>
          ))}
        </tfoot>
      </table>
    </div>
  );
}

/**
 * The run page's evaluation section: the confusion matrix of one evaluation (cells shaded by
 * their share of the true class's samples) and its classification report (precision, recall, F1
 * and support per class, with accuracy and the macro and weighted averages), read from
 * `GET /api/v1/runs/:id/evaluation`. The latest report by default; a picker chooses another step.
 * Renders nothing until the run has a report (`evaluation_report` Events in `events` say when a
 * new one arrives).
 */
export function EvaluationReportSection({ runId, events }: { runId: string; events: readonly RunEvent[] }) {
  const steps = useMemo(() => evaluationSteps(events), [events]);
  const [chosen, setChosen] = useState<number | null>(null);
  const [report, setReport] = useState<EvaluationReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  const latest = steps.at(-1) ?? null;
  const step = chosen ?? latest;

  useEffect(() => {
    if (step === null) return;
    const abort = new AbortController();
    getJson(`/api/v1/runs/${encodeURIComponent(runId)}/evaluation?step=${step}`, EvaluationReportSchema, abort.signal)
      .then((r) => {
        setReport(r);
        setError(null);
      })
      .catch((err: unknown) => {
        if (!abort.signal.aborted) setError(err instanceof Error ? err.message : String(err));
      });
    return () => abort.abort();
  }, [runId, step]);

  if (step === null) return null;
  return (
    <section className="rounded-xl border border-slate-200 bg-white p-5 shadow-sm" data-testid="run-evaluation">
      <div className="mb-3 flex flex-wrap items-center justify-between gap-3">
        <h2 className="text-base font-semibold text-slate-900">Evaluation{report ? ` at step ${report.step.toLocaleString('en-US')}` : ''}</h2>
        {steps.length > 1 ? (
          <label className="flex items-center gap-2 text-sm text-slate-600">
            step
            <select
              aria-label="evaluation step"
              className="rounded border border-slate-300 px-1 py-0.5 text-sm"
              value={step}
              onChange={(e) => {
                const s = Number(e.target.value);
                setChosen(s === latest ? null : s);
              }}
            >
              {[...steps].reverse().map((s) => (
                <option key={s} value={s}>
                  {s === latest ? `${s} (latest)` : s}
                </option>
              ))}
            </select>
          </label>
        ) : null}
      </div>
      {error ? <p className="mb-2 text-sm text-rose-700">{error}</p> : null}
      {!report ? (
        <p className="text-sm text-slate-500">Loading…</p>
      ) : (
        <div className="grid gap-6 lg:grid-cols-2">
          {report.classes.length <= MAX_MATRIX_CLASSES ? (
            <ConfusionMatrix report={report} />
          ) : (
            <p className="text-sm text-slate-500">
              The confusion matrix of {report.classes.length} classes is too large to draw here; <code>GET /api/v1/runs/{runId}/evaluation</code> returns it.
            </p>
          )}
          <ScoresTable report={report} />
        </div>
      )}
    </section>
  );
}
