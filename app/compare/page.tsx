import { CompareView } from '../_dashboard/compare-view.tsx';

/** `/compare?runs=ID1,ID2,...`: runs overlaid per metric and a param diff. */
export default async function ComparePage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const raw = (await searchParams).runs;
  const text = Array.isArray(raw) ? raw.join(',') : (raw ?? '');
  const runIds = [...new Set(text.split(',').filter((id) => /^[A-Za-z0-9_-]{1,64}$/.test(id)))].slice(0, 8);
  return (
    <main className="mx-auto max-w-6xl space-y-4 px-4 py-8 sm:px-6">
      <h1 className="text-2xl font-bold tracking-tight">Compare runs</h1>
      <CompareView runIds={runIds} />
    </main>
  );
}
