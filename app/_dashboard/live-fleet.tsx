'use client';

import { useEffect, useState } from 'react';
import Link from 'next/link';
import { LiveFleetSchema, type LiveFleet } from '../../core/api/index.ts';
import { formatValue } from './chart-math.ts';
import { getJson } from './fetch-api.ts';
import { formatWhen } from './format.ts';
import { usePolledStatus } from '../use-polled-status.ts';

/** Fields of a worker's device info worth a column, in order of preference. */
const DEVICE_FIELDS = ['adapter', 'device', 'gpu', 'vendor', 'architecture', 'platform', 'cpus', 'cores'] as const;

function describeDevice(info: unknown): string {
  if (info === null || typeof info !== 'object') return '–';
  const rec = info as Record<string, unknown>;
  const parts = DEVICE_FIELDS.filter((f) => rec[f] !== undefined && rec[f] !== null).map((f) => {
    const v = rec[f];
    return `${f}: ${typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v)}`;
  });
  return parts.length > 0 ? parts.join(', ') : JSON.stringify(info).slice(0, 80);
}

/** The shard owners connected to `/shard` (mode: sharded), by name and id; nothing when there are none. */
function ShardOwnerList({ owners }: { owners: readonly { id: string; name: string }[] }) {
  if (owners.length === 0) return null;
  return (
    <div className="overflow-x-auto rounded-xl border border-slate-200 bg-white shadow-sm">
      <h2 className="px-4 pt-3 text-sm font-semibold text-slate-900">Shard owners</h2>
      <table className="min-w-full text-sm" data-testid="shard-owners">
        <thead className="text-left text-xs uppercase tracking-wide text-slate-500">
          <tr>
            <th className="py-2 pl-4 pr-4">Owner</th>
            <th className="py-2 pr-4">Id</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {owners.map((o) => (
            <tr key={o.id} data-owner-id={o.id}>
              <td className="py-2 pl-4 pr-4 font-medium">{o.name}</td>
              <td className="py-2 pr-4 font-mono text-xs text-slate-600">{o.id}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The live fleet: every active run with its workers' statistics, every connected worker (tabs and node workers) with the run it serves, throughput, a straggler marker, and totals, then the connected shard owners (from the status body). Polls the coordinator's memory (not the database) every 2 s. */
export function LiveFleetView() {
  const [fleet, setFleet] = useState<LiveFleet | null>(null);
  const status = usePolledStatus();
  // A failed status poll keeps the last list it had rather than blanking it.
  const shardOwners = status.state === 'ok' ? status.status.shardOwners : status.state === 'error' ? (status.lastStatus?.shardOwners ?? []) : [];
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        setFleet(await getJson('/api/v1/fleet', LiveFleetSchema));
        setError(null);
      } catch (err) {
        setError(err instanceof Error ? err.message : String(err));
      }
      if (!stopped) timer = setTimeout(() => void poll(), 2000);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);

  const runNames = new Map(fleet?.runs.map((r) => [r.runId, r.name]) ?? []);
  return (
    <section className="space-y-4">
      {error ? (
        <p role="alert" className="rounded-lg border border-rose-200 bg-rose-50 px-4 py-2 text-sm text-rose-800">
          {error}
        </p>
      ) : null}
      {fleet ? (
        <>
          <div className="grid gap-3 sm:grid-cols-4" data-testid="fleet-totals">
            {[
              ['workers (idle)', `${fleet.totals.workers} (${fleet.totals.idle})`],
              ['active runs', String(fleet.runs.length)],
              ['samples', fleet.totals.samples.toLocaleString('en-US')],
              ['rejected updates', String(fleet.totals.rejected)],
            ].map(([label, value]) => (
              <div key={label} className="rounded-xl border border-slate-200 bg-white p-4 shadow-sm">
                <p className="text-xs uppercase tracking-wide text-slate-500">{label}</p>
                <p className="text-xl font-semibold tabular-nums">{value}</p>
              </div>
            ))}
          </div>
          {fleet.runs.length === 0 ? (
            <p className="text-sm text-slate-600">No active run; connected workers wait for the next one.</p>
          ) : (
            <div className="overflow-x-auto rounded-xl border border-slate-200 bg-white shadow-sm">
              <table className="min-w-full text-sm" data-testid="fleet-runs">
                <thead className="text-left text-xs uppercase tracking-wide text-slate-500">
                  <tr>
                    <th className="py-2 pl-4 pr-4">Run</th>
                    <th className="py-2 pr-4">Status</th>
                    <th className="py-2 pr-4 text-right">Priority</th>
                    <th className="py-2 pr-4 text-right">Workers (min–max)</th>
                    <th className="py-2 pr-4 text-right" title="what the run really trains per second, and the sum of its members' own rates">Run samples/s (members alone)</th>
                  </tr>
                </thead>
                <tbody className="divide-y divide-slate-100">
                  {fleet.runs.map((r) => (
                    <tr key={r.runId} data-run-id={r.runId}>
                      <td className="py-2 pl-4 pr-4 font-medium">
                        <Link className="text-blue-700 hover:underline" href={`/runs/${r.runId}`}>
                          {r.name}
                        </Link>
                      </td>
                      <td className="py-2 pr-4">{r.status}</td>
                      <td className="py-2 pr-4 text-right tabular-nums">{r.priority}</td>
                      <td className="py-2 pr-4 text-right tabular-nums">
                        {r.workers} ({r.minWorkers}–{r.maxWorkers ?? 'any'})
                      </td>
                      <td className="py-2 pr-4 text-right tabular-nums" data-testid="run-rate">
                        {formatValue(r.runSamplesPerSec)} ({formatValue(r.memberSamplesPerSec)})
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <div className="overflow-x-auto rounded-xl border border-slate-200 bg-white shadow-sm">
            <table className="min-w-full text-sm" data-testid="fleet-table">
              <thead className="text-left text-xs uppercase tracking-wide text-slate-500">
                <tr>
                  <th className="py-2 pl-4 pr-4">Worker</th>
                  <th className="py-2 pr-4">Run</th>
                  <th className="py-2 pr-4">Kind</th>
                  <th className="py-2 pr-4">Backend</th>
                  <th className="py-2 pr-4">Device</th>
                  <th className="py-2 pr-4 text-right">Samples/s</th>
                  <th className="py-2 pr-4 text-right" title="fraction of the last update's global batch">Share</th>
                  <th className="py-2 pr-4 text-right">Steps</th>
                  <th className="py-2 pr-4 text-right">Samples</th>
                  <th className="py-2 pr-4 text-right">Rejected</th>
                  <th className="py-2 pr-4">Connected</th>
                  <th className="py-2 pr-4">Last seen</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {fleet.workers.map((w) => (
                  <tr key={w.id} data-worker-id={w.id}>
                    <td className="py-2 pl-4 pr-4 font-medium">
                      {w.name}
                      {w.straggler ? <span className="ml-2 rounded bg-amber-100 px-1.5 text-xs text-amber-800">straggler</span> : null}
                      {w.gradientOutlier ? (
                        <span
                          data-testid="gradient-outlier"
                          className="ml-2 rounded bg-rose-100 px-1.5 text-xs text-rose-800"
                          title={`gradients disagree with the rest of the fleet (smoothed cosine ${w.gradientAgreement?.toFixed(3) ?? '?'}); check this worker's backend`}
                        >
                          disagrees
                        </span>
                      ) : null}
                    </td>
                    <td className="py-2 pr-4" data-testid="worker-run">
                      {w.runId === null ? 'idle' : (runNames.get(w.runId) ?? w.runId)}
                    </td>
                    <td className="py-2 pr-4">{w.kind === 'browser' ? 'tab' : w.kind}</td>
                    <td className="py-2 pr-4">{w.backend}</td>
                    <td className="max-w-xs truncate py-2 pr-4 text-xs text-slate-600" title={JSON.stringify(w.deviceInfo)}>
                      {describeDevice(w.deviceInfo)}
                    </td>
                    <td className="py-2 pr-4 text-right tabular-nums">{formatValue(w.samplesPerSec)}</td>
                    <td className="py-2 pr-4 text-right tabular-nums" data-testid="worker-share">
                      {w.share === null ? '–' : w.share === 0 ? 'spare' : `${(w.share * 100).toFixed(0)}%`}
                    </td>
                    <td className="py-2 pr-4 text-right tabular-nums">{w.steps.toLocaleString('en-US')}</td>
                    <td className="py-2 pr-4 text-right tabular-nums">{w.samples.toLocaleString('en-US')}</td>
                    <td className="py-2 pr-4 text-right tabular-nums">{w.rejected}</td>
                    <td className="py-2 pr-4 text-slate-600">{formatWhen(w.connectedAt)}</td>
                    <td className="py-2 pr-4 text-slate-600">{formatWhen(w.lastSeenAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {fleet.workers.length === 0 ? <p className="p-6 text-center text-sm text-slate-500">No workers connected.</p> : null}
          </div>
          <ShardOwnerList owners={shardOwners} />
        </>
      ) : (
        <p className="text-sm text-slate-500">Loading…</p>
      )}
    </section>
  );
}
