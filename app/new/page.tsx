import { NewRunForm } from '../_dashboard/new-run-form.tsx';

/** `/new`: start a run from a YAML config. */
export default function NewRunPage() {
  return (
    <main className="mx-auto max-w-4xl space-y-4 px-4 py-8 sm:px-6">
      <h1 className="text-2xl font-bold tracking-tight">New run</h1>
      <NewRunForm />
    </main>
  );
}
