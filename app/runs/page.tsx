import { RunsTable } from '../_dashboard/runs-table.tsx';

/** `/runs`: every run with filters, sorting, key metrics and pagination (reads `GET /api/v1/runs`). */
export default function RunsPage() {
  return (
    <main className="mx-auto max-w-6xl space-y-4 px-4 py-8 sm:px-6">
      <h1 className="text-2xl font-bold tracking-tight">Runs</h1>
      <RunsTable />
    </main>
  );
}
