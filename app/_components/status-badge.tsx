const TONES: Record<string, string> = {
  running: 'bg-emerald-100 text-emerald-800 ring-emerald-600/20',
  starting: 'bg-sky-100 text-sky-800 ring-sky-600/20',
  waiting: 'bg-amber-100 text-amber-800 ring-amber-600/20',
  paused: 'bg-amber-100 text-amber-800 ring-amber-600/20',
  finished: 'bg-slate-100 text-slate-700 ring-slate-500/20',
  completed: 'bg-slate-100 text-slate-700 ring-slate-500/20',
  failed: 'bg-rose-100 text-rose-800 ring-rose-600/20',
  cancelled: 'bg-zinc-100 text-zinc-700 ring-zinc-500/20',
};
const FALLBACK_TONE = 'bg-slate-100 text-slate-700 ring-slate-500/20';

/** A small coloured pill showing a run status such as "running" or "failed". */
export function StatusBadge({ status }: { status: string | null | undefined }) {
  const label = status ?? 'unknown';
  return (
    <span className={`inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${TONES[label] ?? FALLBACK_TONE}`}>
      {label}
    </span>
  );
}
