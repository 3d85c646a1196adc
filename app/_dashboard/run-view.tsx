'use client';

import { RunDatasetLine } from './datasets-view.tsx';
import Link from 'next/link';
import { useCallback, useEffect, useRef, useState } from 'react';
import { RunDetailSchema, RunEventsSchema, RunFleetSchema, type RunDetail, type RunEvent, type RunFleet } from '../../core/api/index.ts';
import { formatValue } from './chart-math.ts';
import { EvaluationReportSection } from './evaluation-report.tsx';
import { FeatureImportanceSection } from './feature-importance.tsx';
import { getJson, sendAdmin } from './fetch-api.ts';
import { formatBytes, formatDuration, formatWhen, statusClasses } from './format.ts';
import { ChartControls, LineChart, SERIES_COLORS } from './line-chart.tsx';
import { ShardPlanSection } from './shard-plan.tsx';
import { orderMetricKeys, useRunMetrics } from './use-run-metrics.ts';
import { useRunStream } from './use-run-stream.ts';

/** Least time between two reloads of params, checkpoints, fleet and events while the run is live. */
const LIVE_DETAIL_MS = 10_000;

function Section({ title, children, testId }: { title: string; children: React.ReactNode; testId?: string }) {
  return (
    <section className="rounded-xl border border-slate-200 bg-white p-5 shadow-sm" data-testid={testId}>
      <h2 className="mb-3 text-base font-semibold text-slate-900">{title}</h2>
      {children}
    </section>
  );
}

function describeEvent(e: RunEvent): string {
  const d = (e.detail ?? {}) as Record<string, unknown>;
  const parts = Object.entries(d)
    .filter(([, v]) => v !== null && typeof v !== 'object')
    .map(([k, v]) => `${k}=${String(v)}`);
  return parts.join(' ');
}

function EventTimeline({ events }: { events: RunEvent[] }) {
  const colors: Record<string, string> = {
    worker_joined: 'bg-emerald-500',
    worker_left: 'bg-slate-400',
    update_rejected: 'bg-rose-500',
    checkpoint: 'bg-blue-500',
    resumed: 'bg-purple-500',
  };
  if (events.length === 0) return <p className="text-sm text-slate-500">No events yet.</p>;
  return (
    <ol className="max-h-96 space-y-1 overflow-y-auto text-sm" data-testid="event-timeline">
      {events.map((e) => (
        <li key={e.id} className="flex items-start gap-2">
          <span className={`mt-1.5 inline-block h-2 w-2 shrink-0 rounded-full ${colors[e.kind] ?? (/reject|error|fail/.test(e.kind) ? 'bg-rose-500' : 'bg-slate-300')}`} />
          <span className="w-40 shrink-0 tabular-nums text-slate-500">{formatWhen(e.time)}</span>
          <span className="font-medium text-slate-800">{e.kind}</span>
          {e.workerId ? <span className="text-slate-500">{e.workerId}</span> : null}
          <span className="break-all text-slate-600">{describeEvent(e)}</span>
        </li>
      ))}
    </ol>
  );
}

/** A run's fleet: every worker that contributed, with its counters and a straggler marker. */
export function RunFleetTable({ fleet }: { fleet: RunFleet }) {
  if (fleet.workers.length === 0) return <p className="text-sm text-slate-500">No worker has contributed yet.</p>;
  return (
    <div className="overflow-x-auto">
      <table className="min-w-full text-sm" data-testid="run-fleet">
        <thead className="text-left text-xs uppercase tracking-wide text-slate-500">
          <tr>
            <th className="py-2 pr-4">Worker</th>
            <th className="py-2 pr-4">Kind</th>
            <th className="py-2 pr-4">Backend</th>
            <th className="py-2 pr-4 text-right">Steps</th>
            <th className="py-2 pr-4 text-right">Samples</th>
            <th className="py-2 pr-4 text-right">Samples/s</th>
            <th className="py-2 pr-4 text-right">Bytes in / out</th>
            <th className="py-2 pr-4 text-right">Rejected</th>
            <th className="py-2 pr-4">Last seen</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {fleet.workers.map((w) => (
            <tr key={w.id}>
              <td className="py-2 pr-4 font-medium">
                <span className={`mr-1 inline-block h-2 w-2 rounded-full ${w.connected ? 'bg-emerald-500' : 'bg-slate-300'}`} title={w.connected ? 'connected' : 'gone'} />
                {w.name}
                {w.straggler ? <span className="ml-2 rounded bg-amber-100 px-1.5 text-xs text-amber-800">straggler</span> : null}
              </td>
              <td className="py-2 pr-4">{w.kind === 'browser' ? 'tab' : w.kind}</td>
              <td className="py-2 pr-4">{w.backend}</td>
              <td className="py-2 pr-4 text-right tabular-nums">{w.steps.toLocaleString('en-US')}</td>
              <td className="py-2 pr-4 text-right tabular-nums">{w.samples.toLocaleString('en-US')}</td>
              <td className="py-2 pr-4 text-right tabular-nums">{formatValue(w.samplesPerSec)}</td>
              <td className="py-2 pr-4 text-right tabular-nums">
                {formatBytes(w.bytesIn)} / {formatBytes(w.bytesOut)}
              </td>
              <td className="py-2 pr-4 text-right tabular-nums" title={w.lastRejectReason ?? undefined}>
                {w.rejected}
              </td>
              <td className="py-2 pr-4 text-slate-600">{formatWhen(w.lastSeenAt)}</td>
            </tr>
          ))}
        </tbody>
        <tfoot className="border-t border-slate-200 font-medium">
          <tr>
            <td className="py-2 pr-4">
              {fleet.totals.workers} workers ({fleet.totals.connected} connected)
            </td>
            <td />
            <td />
            <td className="py-2 pr-4 text-right tabular-nums">{fleet.totals.steps.toLocaleString('en-US')}</td>
            <td className="py-2 pr-4 text-right tabular-nums">{fleet.totals.samples.toLocaleString('en-US')}</td>
            <td />
            <td className="py-2 pr-4 text-right tabular-nums">
              {formatBytes(fleet.totals.bytesIn)} / {formatBytes(fleet.totals.bytesOut)}
            </td>
            <td className="py-2 pr-4 text-right tabular-nums">{fleet.totals.rejected}</td>
            <td />
          </tr>
        </tfoot>
      </table>
    </div>
  );
}

function RegisterForm({ runId, checkpointId, onDone }: { runId: string; checkpointId: string; onDone: (msg: string) => void }) {
  const [name, setName] = useState('');
  const [alias, setAlias] = useState('');
  return (
    <form
      className="flex items-center gap-1"
      onSubmit={(e) => {
        e.preventDefault();
        sendAdmin('POST', `/api/v1/models/${encodeURIComponent(name)}/versions`, { run_id: runId, checkpoint: checkpointId, aliases: alias ? [alias] : [] })
          .then((body) => {
            const v = (body as { version?: { version?: number } }).version?.version;
            onDone(`registered as ${name} v${v ?? '?'}`);
          })
          .catch((err: unknown) => onDone(err instanceof Error ? err.message : String(err)));
      }}
    >
      <input aria-label="model name" required value={name} onChange={(e) => setName(e.target.value)} placeholder="model name" className="w-28 rounded border border-slate-300 px-1 py-0.5 text-xs" />
      <input aria-label="alias" value={alias} onChange={(e) => setAlias(e.target.value)} placeholder="alias" className="w-20 rounded border border-slate-300 px-1 py-0.5 text-xs" />
      <button type="submit" className="rounded bg-slate-700 px-2 py-0.5 text-xs text-white hover:bg-slate-600">
        register
      </button>
    </form>
  );
}

/** The run page: header with live progress and stop, live charts of every metric (smoothing, log scale), params, config, events, checkpoints and fleet. */
export function RunView({ runId }: { runId: string }) {
  const [detail, setDetail] = useState<RunDetail | null>(null);
  const [events, setEvents] = useState<RunEvent[]>([]);
  const [fleet, setFleet] = useState<RunFleet | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [smoothing, setSmoothing] = useState(0);
  const [logScale, setLogScale] = useState(false);
  const [stopping, setStopping] = useState(false);
  const [streamGeneration, setStreamGeneration] = useState(0);
  const metrics = useRunMetrics(runId);
  const lastDetail = useRef(0);
  const base = `/api/v1/runs/${encodeURIComponent(runId)}`;

  const loadDetail = useCallback(async () => {
    try {
      const [d, ev, fl] = await Promise.all([getJson(base, RunDetailSchema), getJson(`${base}/events`, RunEventsSchema), getJson(`${base}/fleet`, RunFleetSchema)]);
      setDetail(d);
      setEvents(ev.events);
      setFleet(fl);
      setError(null);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  }, [base]);

  useEffect(() => {
    void loadDetail();
  }, [loadDetail]);

  const { progress, connected } = useRunStream(runId, (kind) => {
    if (kind !== 'progress') {
      void loadDetail();
      metrics.refresh();
      return;
    }
    // Metric points arrive pushed through the stream (onMetrics below); the run's detail (events,
    // fleet, checkpoints) is re-read at most every LIVE_DETAIL_MS.
    const now = Date.now();
    if (now - lastDetail.current >= LIVE_DETAIL_MS) {
      lastDetail.current = now;
      void loadDetail();
    }
  }, streamGeneration, metrics.append);

  if (error && !detail) {
    return (
      <p role="alert" className="rounded-lg border border-rose-200 bg-rose-50 px-4 py-3 text-sm text-rose-800">
        {error}
      </p>
    );
  }
  if (!detail) return <p className="text-sm text-slate-500">Loading run…</p>;
  const { run } = detail;
  // Live progress wins while the coordinator reports the run as training; afterwards the stored row does.
  const status = detail.live ? (progress?.status ?? run.status) : run.status;
  const step = detail.live ? Math.max(progress?.step ?? 0, run.step) : run.step;
  const keys = orderMetricKeys([...metrics.series.keys()]);
  const live = connected || detail.live !== null;

  return (
    <div className="space-y-6">
      <header className="flex flex-wrap items-start justify-between gap-4">
        <div>
          <p className="text-sm text-slate-500">
            <Link href="/runs" className="hover:underline">
              Runs
            </Link>{' '}
            / {run.experiment}
          </p>
          <h1 className="text-2xl font-bold tracking-tight" data-testid="run-name">
            {run.name}
          </h1>
          <p className="mt-1 flex flex-wrap items-center gap-3 text-sm text-slate-600">
            <span className={`rounded-full px-2 py-0.5 text-xs font-medium ${statusClasses(status)}`} data-testid="run-status">
              {status}
            </span>
            <span>{run.external ? 'external' : run.mode}</span>
            <span className="tabular-nums">
              step {step.toLocaleString('en-US')}
              {run.totalUpdates > 0 ? ` / ${run.totalUpdates.toLocaleString('en-US')}` : ''}
            </span>
            <span>{formatDuration(run.durationMs)}</span>
            {progress?.samplesPerSec != null ? <span>{formatValue(progress.samplesPerSec)} samples/s</span> : null}
            {live ? <span className="text-emerald-700">● live</span> : null}
          </p>
          {run.description ? <p className="mt-1 text-sm text-slate-600">{run.description}</p> : null}
          <RunDatasetLine runId={run.id} />
          {run.error ? <p className="mt-1 text-sm text-rose-700">{run.error}</p> : null}
        </div>
        <div className="flex items-center gap-2">
          {(status === 'running' || status === 'paused') && !run.external ? (
            <button
              type="button"
              data-testid={status === 'paused' ? 'unpause-run' : 'pause-run'}
              className="rounded border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-50"
              onClick={() => {
                const action = status === 'paused' ? 'resume' : 'pause';
                sendAdmin('POST', `${base}/${action}`, {})
                  .then(() => setNotice(action === 'pause' ? 'run paused: no update is applied until you resume' : 'run resumed'))
                  .catch((err: unknown) => setNotice(err instanceof Error ? err.message : String(err)))
                  .finally(() => void loadDetail());
              }}
            >
              {status === 'paused' ? 'Resume' : 'Pause'}
            </button>
          ) : null}
          {(status === 'running' || status === 'paused') && !run.external ? (
            <button
              type="button"
              disabled={stopping}
              className="rounded bg-rose-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-rose-500 disabled:opacity-50"
              onClick={() => {
                setStopping(true);
                sendAdmin('POST', `${base}/stop`, {})
                  .then(() => setNotice('run stopped; checkpoint saved'))
                  .catch((err: unknown) => setNotice(err instanceof Error ? err.message : String(err)))
                  .finally(() => {
                    setStopping(false);
                    void loadDetail();
                  });
              }}
            >
              {stopping ? 'stopping…' : 'Stop (checkpoint)'}
            </button>
          ) : null}
          {(status === 'stopped' || status === 'failed') && !run.external && detail.checkpoints.length > 0 ? (
            <button
              type="button"
              className="rounded bg-emerald-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-emerald-500"
              onClick={() => {
                sendAdmin('POST', `${base}/resume`, { from: 'latest' })
                  .then(() => {
                    setNotice('resumed from the latest checkpoint');
                    setStreamGeneration((g) => g + 1);
                  })
                  .catch((err: unknown) => setNotice(err instanceof Error ? err.message : String(err)))
                  .finally(() => {
                    void loadDetail();
                    metrics.refresh();
                  });
              }}
            >
              Resume
            </button>
          ) : null}
        </div>
      </header>
      {notice ? (
        <p role="status" className="rounded-lg border border-slate-200 bg-white px-4 py-2 text-sm text-slate-700">
          {notice}
        </p>
      ) : null}
      {metrics.error ? <p className="text-sm text-rose-700">{metrics.error}</p> : null}

      <Section title="Metrics">
        <div className="mb-3 flex flex-wrap items-center gap-4 text-sm text-slate-600">
          <ChartControls smoothing={smoothing} onSmoothing={setSmoothing} logScale={logScale} onLogScale={setLogScale} showSmoothingValue />
        </div>
        {keys.length === 0 ? (
          <p className="text-sm text-slate-500">No metrics logged yet.</p>
        ) : (
          <div className="grid gap-4 md:grid-cols-2">
            {keys.map((k, i) => (
              <LineChart key={k} title={k} smoothing={smoothing} logScale={logScale} series={[{ name: run.name, color: SERIES_COLORS[i % SERIES_COLORS.length] ?? '#2563eb', points: metrics.series.get(k) ?? [] }]} />
            ))}
          </div>
        )}
      </Section>

      <EvaluationReportSection runId={run.id} events={events} />
      <FeatureImportanceSection runId={run.id} status={status} />

      <div className="grid gap-6 lg:grid-cols-2">
        <Section title="Params" testId="run-params">
          {Object.keys(detail.params).length === 0 ? (
            <p className="text-sm text-slate-500">No params logged.</p>
          ) : (
            <table className="min-w-full text-sm">
              <tbody className="divide-y divide-slate-100">
                {Object.entries(detail.params).map(([k, v]) => (
                  <tr key={k}>
                    <td className="py-1 pr-4 font-mono text-xs text-slate-600">{k}</td>
                    <td className="break-all py-1 font-mono text-xs">{v}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Section>
        <Section title="Config">
          <pre className="max-h-96 overflow-auto rounded bg-slate-50 p-3 text-xs" data-testid="run-config">
            {JSON.stringify(detail.config, null, 2)}
          </pre>
        </Section>
      </div>

      <Section title="Checkpoints" testId="run-checkpoints">
        {detail.checkpoints.length === 0 ? (
          <p className="text-sm text-slate-500">No checkpoints yet.</p>
        ) : (
          <table className="min-w-full text-sm">
            <thead className="text-left text-xs uppercase tracking-wide text-slate-500">
              <tr>
                <th className="py-2 pr-4">Step</th>
                <th className="py-2 pr-4">Tags</th>
                <th className="py-2 pr-4 text-right">Metric</th>
                <th className="py-2 pr-4 text-right">Size</th>
                <th className="py-2 pr-4">sha256</th>
                <th className="py-2 pr-4">Saved</th>
                <th className="py-2 pr-4" />
                <th className="py-2" />
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {[...detail.checkpoints].reverse().map((c) => (
                <tr key={c.id}>
                  <td className="py-2 pr-4 tabular-nums">{c.step}</td>
                  <td className="py-2 pr-4 text-xs">
                    {c.isLatest ? <span className="mr-1 rounded bg-blue-100 px-1.5 text-blue-800">latest</span> : null}
                    {c.isBest ? <span className="rounded bg-emerald-100 px-1.5 text-emerald-800">best</span> : null}
                  </td>
                  <td className="py-2 pr-4 text-right tabular-nums">{formatValue(c.metricValue)}</td>
                  <td className="py-2 pr-4 text-right tabular-nums">{formatBytes(c.sizeBytes)}</td>
                  <td className="py-2 pr-4 font-mono text-xs text-slate-500">{c.sha256.slice(0, 12)}…</td>
                  <td className="py-2 pr-4 text-slate-600">{formatWhen(c.createdAt)}</td>
                  <td className="py-2 pr-4">
                    <a href={c.downloadUrl} className="text-blue-700 hover:underline" download>
                      download
                    </a>
                  </td>
                  <td className="py-2">
                    <RegisterForm runId={run.id} checkpointId={c.id} onDone={setNotice} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>

      <Section title="Fleet" testId="run-fleet-section">
        {fleet ? <RunFleetTable fleet={fleet} /> : <p className="text-sm text-slate-500">Loading…</p>}
      </Section>

      {run.mode === 'sharded' && !run.external ? (
        <Section title="Shard plan" testId="run-shard-plan">
          <ShardPlanSection events={events} config={detail.config} />
        </Section>
      ) : null}

      <Section title="Events">
        <EventTimeline events={events} />
      </Section>
    </div>
  );
}
