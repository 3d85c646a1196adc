'use client';

import Link from 'next/link';
import { useEffect, useState } from 'react';
import { RunListSchema, type RunList } from '../../core/api/index.ts';
import { formatValue } from './chart-math.ts';
import { getJson } from './fetch-api.ts';
import { formatDuration, formatWhen, statusClasses } from './format.ts';

const PAGE_SIZE = 25;
const STATUSES = ['', 'running', 'finished', 'stopped', 'failed', 'queued', 'paused'] as const;
type SortKey = 'createdAt' | 'name' | 'status' | 'step' | 'startedAt';

function SortHeader({ label, column, sort, order, onSort }: { label: string; column: SortKey; sort: SortKey; order: 'asc' | 'desc'; onSort: (c: SortKey) => void }) {
  const active = sort === column;
  return (
    <th className="py-2 pr-4 font-medium" aria-sort={active ? (order === 'asc' ? 'ascending' : 'descending') : 'none'}>
      <button type="button" onClick={() => onSort(column)} className="uppercase hover:text-slate-900">
        {label}
        {active ? (order === 'asc' ? ' ▲' : ' ▼') : ''}
      </button>
    </th>
  );
}

/** The runs table: filters (status, name, param, metric threshold), sortable columns, key metrics, pagination and compare selection. */
export function RunsTable() {
  const [status, setStatus] = useState('');
  const [q, setQ] = useState('');
  const [experiment, setExperiment] = useState('');
  const [param, setParam] = useState('');
  const [metric, setMetric] = useState('');
  const [metricMin, setMetricMin] = useState('');
  const [sort, setSort] = useState<SortKey>('createdAt');
  const [order, setOrder] = useState<'asc' | 'desc'>('desc');
  const [page, setPage] = useState(0);
  const [data, setData] = useState<RunList | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<string[]>([]);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    const timer = setInterval(() => setTick((t) => t + 1), 5000);
    return () => clearInterval(timer);
  }, []);

  useEffect(() => {
    const controller = new AbortController();
    const params = new URLSearchParams({ sort, order, take: String(PAGE_SIZE), skip: String(page * PAGE_SIZE), keys: 'train_loss,eval_loss,eval_accuracy' });
    if (status) params.set('status', status);
    if (q) params.set('q', q);
    if (experiment) params.set('experiment', experiment);
    if (param.includes('=')) params.set('param', param);
    if (metric) {
      params.set('metric', metric);
      if (metricMin !== '' && Number.isFinite(Number(metricMin))) params.set('metric_min', metricMin);
    }
    getJson(`/api/v1/runs?${params.toString()}`, RunListSchema, controller.signal)
      .then((d) => {
        setData(d);
        setError(null);
      })
      .catch((err: unknown) => {
        if (!controller.signal.aborted) setError(err instanceof Error ? err.message : String(err));
      });
    return () => controller.abort();
  }, [status, q, experiment, param, metric, metricMin, sort, order, page, tick]);

  const onSort = (c: SortKey) => {
    if (c === sort) setOrder(order === 'asc' ? 'desc' : 'asc');
    else {
      setSort(c);
      setOrder(c === 'name' ? 'asc' : 'desc');
    }
    setPage(0);
  };
  const pages = data ? Math.max(1, Math.ceil(data.total / PAGE_SIZE)) : 1;
  const input = 'rounded border border-slate-300 bg-white px-2 py-1 text-sm';

  return (
    <section className="space-y-4">
      <div className="flex flex-wrap items-end gap-3 rounded-xl border border-slate-200 bg-white p-4 shadow-sm">
        <label className="flex flex-col text-xs text-slate-500">
          status
          <select aria-label="status filter" className={input} value={status} onChange={(e) => (setStatus(e.target.value), setPage(0))}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s === '' ? 'any' : s}
              </option>
            ))}
          </select>
        </label>
        <label className="flex flex-col text-xs text-slate-500">
          name contains
          <input aria-label="search by name" className={input} value={q} onChange={(e) => (setQ(e.target.value), setPage(0))} placeholder="mnist" />
        </label>
        <label className="flex flex-col text-xs text-slate-500">
          experiment
          <input aria-label="experiment filter" className={`${input} w-32`} value={experiment} onChange={(e) => (setExperiment(e.target.value), setPage(0))} placeholder="mnist" />
        </label>
        <label className="flex flex-col text-xs text-slate-500">
          param key=value
          <input aria-label="param filter" className={input} value={param} onChange={(e) => (setParam(e.target.value), setPage(0))} placeholder="optimizer.name=adam" />
        </label>
        <label className="flex flex-col text-xs text-slate-500">
          metric
          <input aria-label="metric filter key" className={input} value={metric} onChange={(e) => (setMetric(e.target.value), setPage(0))} placeholder="eval_accuracy" />
        </label>
        <label className="flex flex-col text-xs text-slate-500">
          metric ≥
          <input aria-label="metric filter minimum" className={`${input} w-24`} value={metricMin} onChange={(e) => (setMetricMin(e.target.value), setPage(0))} placeholder="0.9" />
        </label>
        <Link
          href={`/compare?runs=${selected.join(',')}`}
          aria-disabled={selected.length < 2}
          className={`ml-auto rounded px-3 py-1.5 text-sm font-medium ${selected.length < 2 ? 'pointer-events-none bg-slate-200 text-slate-400' : 'bg-blue-600 text-white hover:bg-blue-500'}`}
        >
          Compare {selected.length > 0 ? `(${selected.length})` : ''}
        </Link>
      </div>
      {error ? (
        <p role="alert" className="rounded-lg border border-rose-200 bg-rose-50 px-4 py-2 text-sm text-rose-800">
          {error}
        </p>
      ) : null}
      <div className="overflow-x-auto rounded-xl border border-slate-200 bg-white shadow-sm">
        <table className="min-w-full text-sm" data-testid="runs-table">
          <thead className="text-left text-xs uppercase tracking-wide text-slate-500">
            <tr>
              <th className="py-2 pl-4 pr-2 font-medium">
                <span className="sr-only">select</span>
              </th>
              <SortHeader label="Name" column="name" sort={sort} order={order} onSort={onSort} />
              <SortHeader label="Status" column="status" sort={sort} order={order} onSort={onSort} />
              <th className="py-2 pr-4 font-medium">Experiment</th>
              <th className="py-2 pr-4 font-medium">Mode</th>
              <SortHeader label="Step" column="step" sort={sort} order={order} onSort={onSort} />
              <th className="py-2 pr-4 text-right font-medium">train loss (last)</th>
              <th className="py-2 pr-4 text-right font-medium">eval loss (min)</th>
              <th className="py-2 pr-4 text-right font-medium">eval acc (best)</th>
              <th className="py-2 pr-4 text-right font-medium">Duration</th>
              <th className="py-2 pr-4 text-right font-medium">Workers</th>
              <SortHeader label="Created" column="createdAt" sort={sort} order={order} onSort={onSort} />
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {data?.runs.map((r) => (
              <tr key={r.id} data-run-id={r.id}>
                <td className="py-2 pl-4 pr-2">
                  <input
                    type="checkbox"
                    aria-label={`select ${r.name} for compare`}
                    checked={selected.includes(r.id)}
                    onChange={(e) => setSelected(e.target.checked ? [...selected, r.id] : selected.filter((s) => s !== r.id))}
                  />
                </td>
                <td className="whitespace-nowrap py-2 pr-4 font-medium">
                  <Link href={`/runs/${r.id}`} className="text-blue-700 hover:underline">
                    {r.name}
                  </Link>
                </td>
                <td className="py-2 pr-4">
                  <span className={`rounded-full px-2 py-0.5 text-xs font-medium ${statusClasses(r.status)}`}>{r.status}</span>
                </td>
                <td className="py-2 pr-4 text-slate-600">{r.experiment}</td>
                <td className="py-2 pr-4 text-slate-600">{r.external ? 'external' : r.mode}</td>
                <td className="whitespace-nowrap py-2 pr-4 tabular-nums">
                  {r.step.toLocaleString('en-US')}
                  {r.totalUpdates > 0 ? ` / ${r.totalUpdates.toLocaleString('en-US')}` : ''}
                </td>
                <td className="py-2 pr-4 text-right tabular-nums">{formatValue(r.metrics.train_loss?.last)}</td>
                <td className="py-2 pr-4 text-right tabular-nums">{formatValue(r.metrics.eval_loss?.min)}</td>
                <td className="py-2 pr-4 text-right tabular-nums">
                  {r.metrics.eval_accuracy?.max == null ? '–' : `${(100 * r.metrics.eval_accuracy.max).toFixed(2)}%`}
                </td>
                <td className="py-2 pr-4 text-right tabular-nums">{formatDuration(r.durationMs)}</td>
                <td className="py-2 pr-4 text-right tabular-nums" title="live workers / workers that contributed">
                  {r.liveWorkers === null ? (r.contributors ?? '–') : `${r.liveWorkers} / ${r.contributors ?? 0}`}
                </td>
                <td className="whitespace-nowrap py-2 pr-4 text-slate-600">{formatWhen(r.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {data && data.runs.length === 0 ? <p className="p-6 text-center text-sm text-slate-500">No runs match.</p> : null}
        {!data && !error ? <p className="p-6 text-center text-sm text-slate-500">Loading…</p> : null}
      </div>
      <div className="flex items-center justify-between text-sm text-slate-600">
        <span>{data ? `${data.total.toLocaleString('en-US')} runs` : ''}</span>
        <span className="flex items-center gap-2">
          <button type="button" className="rounded border border-slate-300 bg-white px-2 py-1 disabled:opacity-40" disabled={page === 0} onClick={() => setPage(page - 1)}>
            ← prev
          </button>
          page {page + 1} of {pages}
          <button type="button" className="rounded border border-slate-300 bg-white px-2 py-1 disabled:opacity-40" disabled={page + 1 >= pages} onClick={() => setPage(page + 1)}>
            next →
          </button>
        </span>
      </div>
    </section>
  );
}
