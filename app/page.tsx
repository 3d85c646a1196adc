import { StatusDashboard } from './_components/status-dashboard.tsx';

/** `/`: the minimal status dashboard (a client component that polls `/api/v1/status`). */
export default function HomePage() {
  return <StatusDashboard />;
}
