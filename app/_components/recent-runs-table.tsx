import type { StatusRecentRun } from '../../core/api/status.ts';
import { formatDateTime, formatNumber, formatPercent } from '../status-format.ts';
import { StatusBadge } from './status-badge.tsx';

/** The most recent runs, newest first as the coordinator sends them. */
export function RecentRunsTable({ runs }: { runs: readonly StatusRecentRun[] }) {
  return (
    <section aria-labelledby="recent-runs" className="rounded-xl border border-slate-200 bg-white p-5 shadow-sm">
      <h2 id="recent-runs" className="text-base font-semibold text-slate-900">
        Recent runs
      </h2>
      {runs.length === 0 ? (
        <p className="mt-3 text-sm text-slate-500">No runs recorded yet.</p>
      ) : (
        <div className="mt-3 overflow-x-auto">
          <table className="min-w-full text-sm">
            <thead className="text-left text-xs uppercase tracking-wide text-slate-500">
              <tr>
                <th className="py-2 pr-4 font-medium">Name</th>
                <th className="py-2 pr-4 font-medium">Status</th>
                <th className="py-2 pr-4 text-right font-medium">Step</th>
                <th className="py-2 pr-4 text-right font-medium">Best accuracy</th>
                <th className="py-2 font-medium">Created</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {runs.map((run) => (
                <tr key={run.id}>
                  <td className="py-2 pr-4 font-medium text-slate-900">{run.name}</td>
                  <td className="py-2 pr-4">
                    <StatusBadge status={run.status} />
                  </td>
                  <td className="py-2 pr-4 text-right tabular-nums">
                    {formatNumber(run.step)} / {formatNumber(run.totalUpdates)}
                  </td>
                  <td className="py-2 pr-4 text-right tabular-nums">{formatPercent(run.bestAccuracy)}</td>
                  <td className="py-2 text-slate-600">{formatDateTime(run.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
