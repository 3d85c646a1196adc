import { RegistryView } from '../_dashboard/registry-view.tsx';

/** `/registry`: registered models, versions, aliases and lineage. */
export default function RegistryPage() {
  return (
    <main className="mx-auto max-w-6xl space-y-4 px-4 py-8 sm:px-6">
      <h1 className="text-2xl font-bold tracking-tight">Model registry</h1>
      <RegistryView />
    </main>
  );
}
