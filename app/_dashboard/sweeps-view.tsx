'use client';

import Link from 'next/link';
import { useEffect, useState } from 'react';
import type { z } from 'zod';
import { SweepDetailSchema, SweepListSchema, type SweepDecision, type SweepDetail, type SweepList } from '../../core/api/sweeps.ts';
import { formatValue } from './chart-math.ts';
import { getJson } from './fetch-api.ts';
import { formatDuration, formatWhen, statusClasses } from './format.ts';

/** How often a sweep page reloads while its sweep is running (ms). */
const POLL_MS = 3000;

/** Whether a list has a running sweep (its page keeps reloading). */
const anyRunning = (b: SweepList): boolean => b.sweeps.some((s) => s.status === 'running');
/** Whether a sweep is running (its page keeps reloading). */
const isRunning = (b: SweepDetail): boolean => b.sweep.status === 'running';

/** GETs `url` now and again every {@link POLL_MS} while `keepPolling` says so of the last answer. */
function usePolledJson<S extends z.ZodType>(url: string, schema: S, keepPolling: (body: z.output<S>) => boolean): { data: z.output<S> | null; error: string | null } {
  const [data, setData] = useState<z.output<S> | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      let again = true;
      try {
        const body = await getJson(url, schema);
        setData(body);
        setError(null);
        again = keepPolling(body);
      } catch (err) {
        setError(err instanceof Error ? err.message : String(err));
      }
      if (!stopped && again) timer = setTimeout(() => void load(), POLL_MS);
    };
    void load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [url, schema, keepPolling]);
  return { data, error };
}

function Status({ status }: { status: string }) {
  return <span className={`rounded px-1.5 py-0.5 text-xs font-medium ${statusClasses(status)}`}>{status}</span>;
}

function ErrorNote({ message }: { message: string }) {
  return (
    <p role="alert" className="rounded-lg border border-rose-200 bg-rose-50 px-4 py-2 text-sm text-rose-800">
      {message}
    </p>
  );
}

/** The objective as text: `eval_loss (min)`, or a dash when it is not known. */
function objectiveText(metric: string | null, mode: string | null): string {
  return metric && mode ? `${metric} (${mode})` : '–';
}

/** `/sweeps`: every sweep with its trial count and best trial; reloads while one is running. */
export function SweepListView() {
  const { data, error } = usePolledJson('/api/v1/sweeps', SweepListSchema, anyRunning);
  if (error && !data) return <ErrorNote message={error} />;
  if (!data) return <p className="text-sm text-slate-500">Loading…</p>;
  if (data.sweeps.length === 0) {
    return (
      <p className="rounded-xl border border-dashed border-slate-300 bg-white p-8 text-center text-sm text-slate-500">
        No sweeps yet. Start one with <code>npm start -- --sweep FILE</code> (docs/sweeps.md).
      </p>
    );
  }
  return (
    <div className="overflow-x-auto rounded-xl border border-slate-200 bg-white shadow-sm">
      {error ? <ErrorNote message={error} /> : null}
      <table className="min-w-full text-sm" data-testid="sweeps-table">
        <thead className="text-left text-xs uppercase tracking-wide text-slate-500">
          <tr>
            <th className="px-4 py-2">Name</th>
            <th className="px-4 py-2">Status</th>
            <th className="px-4 py-2">Algorithm</th>
            <th className="px-4 py-2">Objective</th>
            <th className="px-4 py-2">Trials</th>
            <th className="px-4 py-2">Best trial</th>
            <th className="px-4 py-2">Created</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {data.sweeps.map((s) => (
            <tr key={s.id} data-sweep-id={s.id}>
              <td className="px-4 py-2 font-medium">
                <Link href={`/sweeps/${s.id}`} className="text-blue-700 hover:underline">
                  {s.name}
                </Link>
              </td>
              <td className="px-4 py-2">
                <Status status={s.status} />
              </td>
              <td className="px-4 py-2 text-slate-600">{s.algorithm}</td>
              <td className="px-4 py-2 text-slate-600">{objectiveText(s.metric, s.mode)}</td>
              <td className="px-4 py-2 tabular-nums">{s.trials}</td>
              <td className="px-4 py-2 tabular-nums">
                {s.bestRunId ? (
                  <Link href={`/runs/${s.bestRunId}`} className="text-blue-700 hover:underline">
                    {formatValue(s.bestValue)}
                  </Link>
                ) : (
                  '–'
                )}
              </td>
              <td className="px-4 py-2 text-slate-600">{formatWhen(s.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function decisionText(d: SweepDecision | null): string {
  if (!d) return '–';
  if (d.kind === 'stopped') return `stopped at step ${d.step ?? '?'}`;
  if (d.kind === 'ended') return `ran to its end (${d.status ?? '?'})`;
  return 'started';
}

function paramText(v: unknown): string {
  return typeof v === 'number' ? formatValue(v) : JSON.stringify(v);
}

/** The metric/mode form: reloads the page with `?metric=…&mode=…`, which picks the best trial. */
function ObjectiveForm({ metric, mode }: { metric: string | null; mode: string | null }) {
  return (
    <form method="get" className="flex flex-wrap items-center gap-2 text-sm">
      best by
      <input name="metric" aria-label="metric" defaultValue={metric ?? 'eval_loss'} className="w-36 rounded border border-slate-300 px-1 py-0.5" required />
      <select name="mode" aria-label="mode" defaultValue={mode ?? 'min'} className="rounded border border-slate-300 px-1 py-0.5">
        <option value="min">min</option>
        <option value="max">max</option>
      </select>
      <button type="submit" className="rounded bg-slate-700 px-2 py-0.5 text-white hover:bg-slate-600">
        show
      </button>
    </form>
  );
}

/** `/sweeps/:id`: the sweep and its trials (params, status, step, best metric, last scheduler decision), the best trial highlighted; reloads while it runs. */
export function SweepDetailView({ sweepId, metric, mode }: { sweepId: string; metric: string | null; mode: string | null }) {
  const query = metric && mode ? `?${new URLSearchParams({ metric, mode }).toString()}` : '';
  const { data, error } = usePolledJson(`/api/v1/sweeps/${encodeURIComponent(sweepId)}${query}`, SweepDetailSchema, isRunning);
  if (error && !data) return <ErrorNote message={error} />;
  if (!data) return <p className="text-sm text-slate-500">Loading…</p>;
  const { sweep, trials } = data;
  const paramKeys = Object.keys(sweep.searchSpace);
  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-baseline justify-between gap-2">
        <h1 className="text-2xl font-bold tracking-tight" data-testid="sweep-name">
          {sweep.name}
        </h1>
        <ObjectiveForm metric={sweep.metric} mode={sweep.mode} />
      </div>
      {error ? <ErrorNote message={error} /> : null}
      <p className="flex flex-wrap items-center gap-3 text-sm text-slate-600">
        <Status status={sweep.status} />
        <span>{sweep.algorithm}</span>
        <span>objective {objectiveText(sweep.metric, sweep.mode)}</span>
        <span>
          {sweep.trials} trial{sweep.trials === 1 ? '' : 's'}
        </span>
        <span>best {sweep.bestRunId ? formatValue(sweep.bestValue) : '–'}</span>
        <span>created {formatWhen(sweep.createdAt)}</span>
      </p>
      <div className="overflow-x-auto rounded-xl border border-slate-200 bg-white shadow-sm">
        <table className="min-w-full text-sm" data-testid="trials-table">
          <thead className="text-left text-xs uppercase tracking-wide text-slate-500">
            <tr>
              <th className="px-4 py-2">Trial</th>
              {paramKeys.map((k) => (
                <th key={k} className="px-4 py-2 normal-case">
                  {k}
                </th>
              ))}
              <th className="px-4 py-2">Status</th>
              <th className="px-4 py-2">Step</th>
              <th className="px-4 py-2">Best {sweep.metric ?? 'metric'}</th>
              <th className="px-4 py-2">Last decision</th>
              <th className="px-4 py-2">Duration</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {trials.map((t) => {
              const best = t.runId === sweep.bestRunId;
              return (
                <tr key={t.runId} data-run-id={t.runId} data-best={best ? 'true' : undefined} className={best ? 'bg-emerald-50 font-medium' : undefined}>
                  <td className="px-4 py-2">
                    <Link href={`/runs/${t.runId}`} className="text-blue-700 hover:underline">
                      {t.name}
                    </Link>
                    {best ? <span className="ml-2 rounded bg-emerald-100 px-1.5 text-xs text-emerald-800">best</span> : null}
                  </td>
                  {paramKeys.map((k) => (
                    <td key={k} className="px-4 py-2 tabular-nums">
                      {k in t.params ? paramText(t.params[k]) : '–'}
                    </td>
                  ))}
                  <td className="px-4 py-2">
                    <Status status={t.status} />
                  </td>
                  <td className="px-4 py-2 tabular-nums">
                    {t.step} / {t.totalUpdates}
                  </td>
                  <td className="px-4 py-2 tabular-nums">{formatValue(t.bestValue)}</td>
                  <td className="px-4 py-2 text-slate-600">{decisionText(t.lastDecision)}</td>
                  <td className="px-4 py-2 tabular-nums text-slate-600">{formatDuration(t.durationMs)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </div>
  );
}
