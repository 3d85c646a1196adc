import { SweepDetailView } from '../../_dashboard/sweeps-view.tsx';

/** `/sweeps/:id?metric=…&mode=…`: one sweep's trials, the best by the objective highlighted (reads `GET /api/v1/sweeps/:id`). */
export default async function SweepPage({ params, searchParams }: { params: Promise<{ id: string }>; searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { id } = await params;
  const query = await searchParams;
  const one = (v: string | string[] | undefined): string | null => (typeof v === 'string' && v !== '' ? v : null);
  return (
    <main className="mx-auto max-w-6xl px-4 py-8 sm:px-6">
      <SweepDetailView sweepId={id} metric={one(query.metric)} mode={one(query.mode)} />
    </main>
  );
}
