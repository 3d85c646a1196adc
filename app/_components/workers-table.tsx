import type { StatusWorker } from '../../core/api/status.ts';
import { formatAgo, formatNumber } from '../status-format.ts';

/** The connected workers with the run each serves (`runNames`: active run id → name); `nowMs` is when the status was fetched (for "last seen"). */
export function WorkersTable({ workers, runNames, nowMs }: { workers: readonly StatusWorker[]; runNames: ReadonlyMap<string, string>; nowMs: number }) {
  return (
    <section aria-labelledby="workers" className="rounded-xl border border-slate-200 bg-white p-5 shadow-sm">
      <h2 id="workers" className="text-base font-semibold text-slate-900">
        Workers <span className="font-normal text-slate-500">({workers.length})</span>
      </h2>
      {workers.length === 0 ? (
        <p className="mt-3 text-sm text-slate-500">No worker is connected. Start one with the command below.</p>
      ) : (
        <div className="mt-3 overflow-x-auto">
          <table className="min-w-full text-sm">
            <thead className="text-left text-xs uppercase tracking-wide text-slate-500">
              <tr>
                <th className="py-2 pr-4 font-medium">Name</th>
                <th className="py-2 pr-4 font-medium">Run</th>
                <th className="py-2 pr-4 font-medium">Kind</th>
                <th className="py-2 pr-4 font-medium">Backend</th>
                <th className="py-2 pr-4 text-right font-medium">Steps</th>
                <th className="py-2 pr-4 text-right font-medium">Samples</th>
                <th className="py-2 pr-4 text-right font-medium">Samples/s</th>
                <th className="py-2 font-medium">Last seen</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {workers.map((worker) => (
                <tr key={worker.id} data-worker-id={worker.id}>
                  <td className="py-2 pr-4 font-medium text-slate-900">{worker.name}</td>
                  <td className="py-2 pr-4 text-slate-600" data-testid="worker-run">
                    {worker.runId === null ? 'idle' : (runNames.get(worker.runId) ?? worker.runId)}
                  </td>
                  <td className="py-2 pr-4 text-slate-600">{worker.kind}</td>
                  <td className="py-2 pr-4">
                    <code className="rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-700">{worker.backend}</code>
                  </td>
                  <td className="py-2 pr-4 text-right tabular-nums">{formatNumber(worker.steps)}</td>
                  <td className="py-2 pr-4 text-right tabular-nums">{formatNumber(worker.samples)}</td>
                  <td className="py-2 pr-4 text-right tabular-nums">{formatNumber(worker.samplesPerSec, 1)}</td>
                  <td className="py-2 text-slate-600">{formatAgo(worker.lastSeenAt, nowMs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
