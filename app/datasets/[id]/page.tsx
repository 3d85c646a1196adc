import { DatasetDetailView } from '../../_dashboard/datasets-view.tsx';

/** `/datasets/:id`: one data set's versions, class histograms and runs (reads `GET /api/v1/datasets/:id`). */
export default async function DatasetPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return (
    <main className="mx-auto max-w-6xl px-4 py-8 sm:px-6">
      <DatasetDetailView datasetId={id} />
    </main>
  );
}
