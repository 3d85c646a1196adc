import { RunView } from '../../_dashboard/run-view.tsx';

/** `/runs/:id`: one run with live charts, params, config, checkpoints, fleet and events. */
export default async function RunPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return (
    <main className="mx-auto max-w-6xl px-4 py-8 sm:px-6">
      <RunView runId={id} />
    </main>
  );
}
