import type { Metadata } from 'next';
import { ContributeView } from '../_contribute/contribute-view.tsx';

/** Title of the contribute page. */
export const metadata: Metadata = { title: 'Contribute · crowdtrain' };

/** `/contribute?token=…`: this tab joins the coordinator's fleet and trains on its GPU (or best backend). */
export default function ContributePage() {
  return (
    <div className="mx-auto max-w-4xl px-4 py-8 sm:px-6">
      <header>
        <h1 className="text-2xl font-bold tracking-tight text-slate-900">Contribute this tab</h1>
        <p className="text-sm text-slate-500">
          While this page is open and visible, it computes gradients for the coordinator&apos;s active run. Close it or press Pause to leave; nothing is lost.
        </p>
      </header>
      <main className="mt-6">
        <ContributeView />
      </main>
    </div>
  );
}
