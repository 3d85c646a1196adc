import { SweepListView } from '../_dashboard/sweeps-view.tsx';

/** `/sweeps`: every hyperparameter sweep with its trial count and best trial (reads `GET /api/v1/sweeps`). */
export default function SweepsPage() {
  return (
    <main className="mx-auto max-w-6xl space-y-4 px-4 py-8 sm:px-6">
      <h1 className="text-2xl font-bold tracking-tight">Sweeps</h1>
      <SweepListView />
    </main>
  );
}
