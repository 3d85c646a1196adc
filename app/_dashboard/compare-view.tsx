'use client';

import Link from 'next/link';
import { useEffect, useState } from 'react';
import { MetricHistorySchema, MetricKeysSchema, RunDetailSchema, type RunDetail } from '../../core/api/index.ts';
import type { XY } from './chart-math.ts';
import { getJson } from './fetch-api.ts';
import { ChartControls, LineChart, SERIES_COLORS } from './line-chart.tsx';
import { orderMetricKeys } from './use-run-metrics.ts';

interface ComparedRun {
  detail: RunDetail;
  color: string;
  series: Map<string, XY[]>;
}

/** Params whose values differ between runs (or are missing in some), then the ones all share. */
export function diffParams(runs: readonly { params: Record<string, string> }[]): { differing: string[]; same: string[] } {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.params)))].sort();
  const differing: string[] = [];
  const same: string[] = [];
  for (const k of keys) {
    const values = new Set(runs.map((r) => r.params[k] ?? '\u0000missing'));
    (values.size > 1 ? differing : same).push(k);
  }
  return { differing, same };
}

/** Compare: two or more runs overlaid per metric on the same axes, and a param diff table. */
export function CompareView({ runIds }: { runIds: string[] }) {
  const [runs, setRuns] = useState<ComparedRun[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [smoothing, setSmoothing] = useState(0);
  const [logScale, setLogScale] = useState(false);
  const [showSame, setShowSame] = useState(false);

  useEffect(() => {
    if (runIds.length < 2) return;
    const controller = new AbortController();
    void (async () => {
      try {
        const loaded = await Promise.all(
          runIds.map(async (id, i) => {
            const base = `/api/v1/runs/${encodeURIComponent(id)}`;
            const [detail, keys] = await Promise.all([getJson(base, RunDetailSchema, controller.signal), getJson(`${base}/metrics`, MetricKeysSchema, controller.signal)]);
            const series = new Map<string, XY[]>();
            await Promise.all(
              keys.metrics.map(async (m) => {
                const h = await getJson(`${base}/metrics/${encodeURIComponent(m.key)}`, MetricHistorySchema, controller.signal);
                series.set(
                  m.key,
                  h.points.map((p) => ({ x: p.step, y: p.value })),
                );
              }),
            );
            return { detail, series, color: SERIES_COLORS[i % SERIES_COLORS.length] ?? '#2563eb' };
          }),
        );
        setRuns(loaded);
      } catch (err) {
        if (!controller.signal.aborted) setError(err instanceof Error ? err.message : String(err));
      }
    })();
    return () => controller.abort();
  }, [runIds]);

  if (runIds.length < 2) {
    return (
      <p className="text-sm text-slate-600">
        Pick two or more runs on the{' '}
        <Link className="text-blue-700 hover:underline" href="/runs">
          runs page
        </Link>{' '}
        (or open <code>/compare?runs=ID1,ID2</code>).
      </p>
    );
  }
  if (error) return <p role="alert" className="rounded-lg border border-rose-200 bg-rose-50 px-4 py-2 text-sm text-rose-800">{error}</p>;
  if (!runs) return <p className="text-sm text-slate-500">Loading runs…</p>;

  const keys = orderMetricKeys([...new Set(runs.flatMap((r) => [...r.series.keys()]))]);
  const { differing, same } = diffParams(runs.map((r) => r.detail));
  const label = (r: ComparedRun) => `${r.detail.run.name} (${r.detail.run.id.slice(-6)})`;

  return (
    <div className="space-y-6">
      <div className="flex flex-wrap gap-3 text-sm">
        {runs.map((r) => (
          <Link key={r.detail.run.id} href={`/runs/${r.detail.run.id}`} className="inline-flex items-center gap-1 rounded-full border border-slate-200 bg-white px-3 py-1 hover:border-slate-400">
            <span className="inline-block h-2.5 w-2.5 rounded-full" style={{ background: r.color }} />
            {label(r)}
          </Link>
        ))}
      </div>
      <section className="rounded-xl border border-slate-200 bg-white p-5 shadow-sm">
        <div className="mb-3 flex flex-wrap items-center gap-4 text-sm text-slate-600">
          <h2 className="text-base font-semibold text-slate-900">Metrics</h2>
          <ChartControls smoothing={smoothing} onSmoothing={setSmoothing} logScale={logScale} onLogScale={setLogScale} />
        </div>
        <div className="grid gap-4 md:grid-cols-2">
          {keys.map((k) => (
            <LineChart
              key={k}
              title={k}
              smoothing={smoothing}
              logScale={logScale}
              series={runs.filter((r) => r.series.has(k)).map((r) => ({ name: label(r), color: r.color, points: r.series.get(k) ?? [] }))}
            />
          ))}
        </div>
      </section>
      <section className="rounded-xl border border-slate-200 bg-white p-5 shadow-sm">
        <div className="mb-3 flex items-center justify-between">
          <h2 className="text-base font-semibold text-slate-900">
            Params ({differing.length} differ, {same.length} same)
          </h2>
          <label className="flex items-center gap-2 text-sm text-slate-600">
            <input type="checkbox" checked={showSame} onChange={(e) => setShowSame(e.target.checked)} />
            show identical
          </label>
        </div>
        <div className="overflow-x-auto">
          <table className="min-w-full text-sm" data-testid="param-diff">
            <thead className="text-left text-xs uppercase tracking-wide text-slate-500">
              <tr>
                <th className="py-2 pr-4">param</th>
                {runs.map((r) => (
                  <th key={r.detail.run.id} className="py-2 pr-4" style={{ color: r.color }}>
                    {label(r)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {[...differing, ...(showSame ? same : [])].map((k) => (
                <tr key={k} className={differing.includes(k) ? 'bg-amber-50' : ''} data-differs={differing.includes(k)}>
                  <td className="py-1 pr-4 font-mono text-xs">{k}</td>
                  {runs.map((r) => (
                    <td key={r.detail.run.id} className="break-all py-1 pr-4 font-mono text-xs">
                      {r.detail.params[k] ?? '—'}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </div>
  );
}
