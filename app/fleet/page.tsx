import { LiveFleetView } from '../_dashboard/live-fleet.tsx';

/** `/fleet`: the workers connected now, with throughput and stragglers. */
export default function FleetPage() {
  return (
    <main className="mx-auto max-w-6xl space-y-4 px-4 py-8 sm:px-6">
      <h1 className="text-2xl font-bold tracking-tight">Fleet</h1>
      <LiveFleetView />
    </main>
  );
}
