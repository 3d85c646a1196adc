import { DatasetsPageView } from '../_dashboard/datasets-view.tsx';

/** `/datasets`: upload a table, the uploaded files, and the data sets runs trained on with their versions (`GET /api/v1/datasets`). */
export default function DatasetsPage() {
  return (
    <main className="mx-auto max-w-6xl space-y-4 px-4 py-8 sm:px-6">
      <h1 className="text-2xl font-bold tracking-tight">Data sets</h1>
      <DatasetsPageView />
    </main>
  );
}
