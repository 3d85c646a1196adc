import { NewRunForm } from '../_dashboard/new-run-form.tsx';
import { TRAINING_MODES } from '../../core/run/modes.ts';

/** `/new`: start a run from a YAML config. */
export default function NewRunPage() {
  return (
    <main className="mx-auto max-w-4xl space-y-4 px-4 py-8 sm:px-6">
      <h1 className="text-2xl font-bold tracking-tight">New run</h1>
      <NewRunForm />
      <section aria-labelledby="modes-heading" className="space-y-1 text-sm text-slate-700">
        <h2 id="modes-heading" className="font-semibold">
          Training modes (<code>mode:</code>)
        </h2>
        <ul data-testid="training-modes" className="list-disc pl-5">
          {Object.values(TRAINING_MODES).map((m) => (
            <li key={m.name}>
              <code>{m.name}</code>: {m.summary}
            </li>
          ))}
        </ul>
      </section>
    </main>
  );
}
