import Link from 'next/link';
import { AdminTokenField } from './admin-token-field.tsx';

const LINKS = [
  ['/', 'Status'],
  ['/runs', 'Runs'],
  ['/fleet', 'Fleet'],
  ['/compare', 'Compare'],
  ['/sweeps', 'Sweeps'],
  ['/datasets', 'Datasets'],
  ['/registry', 'Registry'],
  ['/new', 'New run'],
] as const;

/** The dashboard's top navigation bar with the admin-token field. */
export function DashboardNav() {
  return (
    <nav className="border-b border-slate-200 bg-white" aria-label="dashboard">
      <div className="mx-auto flex max-w-6xl flex-wrap items-center justify-between gap-3 px-4 py-2 sm:px-6">
        <div className="flex flex-wrap items-center gap-4 text-sm">
          <span className="font-bold text-slate-900">crowdtrain</span>
          {LINKS.map(([href, label]) => (
            <Link key={href} href={href} className="text-slate-600 hover:text-slate-900">
              {label}
            </Link>
          ))}
        </div>
        <AdminTokenField />
      </div>
    </nav>
  );
}
