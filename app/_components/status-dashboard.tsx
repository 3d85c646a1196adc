'use client';

import { usePolledStatus, STATUS_URL } from '../use-polled-status.ts';
import type { PolledStatus } from '../use-polled-status.ts';
import { ActiveRunCard } from './active-run-card.tsx';
import { JoinCommand } from './join-command.tsx';
import { ContributeLink } from './contribute-link.tsx';
import { RecentRunsTable } from './recent-runs-table.tsx';
import { useJoinInfo } from './use-join-info.ts';
import type { StatusJoin } from '../../core/api/status.ts';
import { WorkersTable } from './workers-table.tsx';

function ConnectionIndicator({ polled }: { polled: PolledStatus }) {
  const [dot, label] =
    polled.state === 'ok'
      ? ['bg-emerald-500', 'live']
      : polled.state === 'loading'
        ? ['bg-slate-400 animate-pulse', 'connecting…']
        : polled.reason === 'unreachable'
          ? ['bg-rose-500', 'coordinator unreachable']
          : ['bg-amber-500', 'bad status response'];
  return (
    <span className="inline-flex items-center gap-2 text-sm text-slate-600" role="status">
      <span className={`h-2.5 w-2.5 rounded-full ${dot}`} aria-hidden="true" />
      {label}
    </span>
  );
}

function NoActiveRun() {
  return (
    <section className="rounded-xl border border-dashed border-slate-300 bg-white p-8 text-center">
      <h2 className="text-base font-semibold text-slate-900">No active run</h2>
      <p className="mt-1 text-sm text-slate-500">
        The coordinator is idle. Workers that join now wait until a run starts.
      </p>
    </section>
  );
}

/** The two ways to join; the worker token only where the coordinator shows it (admin token or --public-join). */
function JoinSections({ join }: { join: StatusJoin }) {
  const shown = useJoinInfo(join);
  return (
    <>
      <ContributeLink path={shown.contributePath} hint={shown.tokenHint} />
      <JoinCommand command={shown.command} hint={shown.tokenHint} />
    </>
  );
}

/** The status page: polls the coordinator every 2 s and shows every active run, the connected workers with the run each serves, recent runs and the join command. */
export function StatusDashboard() {
  const polled = usePolledStatus(STATUS_URL, 2000);
  const status = polled.state === 'ok' ? polled.status : polled.state === 'error' ? polled.lastStatus : null;
  const fetchedAt = polled.state === 'ok' ? polled.fetchedAt : polled.state === 'error' ? polled.failingSince : 0;

  return (
    <div className="mx-auto max-w-6xl px-4 py-8 sm:px-6">
      <header className="flex flex-wrap items-center justify-between gap-3">
        <div>
          <h1 className="text-2xl font-bold tracking-tight text-slate-900">crowdtrain</h1>
          <p className="text-sm text-slate-500">Distributed TensorFlow.js training · fleet status</p>
        </div>
        <ConnectionIndicator polled={polled} />
      </header>

      <main className="mt-6 space-y-6">
        {polled.state === 'error' ? (
          <div role="alert" className="rounded-lg border border-rose-200 bg-rose-50 px-4 py-3 text-sm text-rose-800">
            <p className="font-medium">
              {polled.reason === 'unreachable' ? 'Coordinator unreachable' : 'The coordinator sent a status this page cannot read'}
            </p>
            <p className="mt-1 break-words">
              {polled.message}. Retrying every 2 s{status ? '; showing the last status received.' : '.'}
            </p>
          </div>
        ) : null}

        {polled.state === 'loading' ? <p className="text-sm text-slate-500">Connecting to the coordinator…</p> : null}

        {status ? (
          <>
            {status.activeRuns.length > 0 ? (
              status.activeRuns.map((run) => <ActiveRunCard key={run.runId} run={run} workers={status.workers.filter((w) => w.runId === run.runId).length} />)
            ) : (
              <NoActiveRun />
            )}
            <WorkersTable workers={status.workers} runNames={new Map(status.activeRuns.map((r) => [r.runId, r.name]))} nowMs={fetchedAt} />
            <JoinSections join={status.join} />
            <RecentRunsTable runs={status.runs} />
          </>
        ) : null}
      </main>

      <footer className="mt-10 text-xs text-slate-400">crowdtrain {status?.version ?? ''}</footer>
    </div>
  );
}
