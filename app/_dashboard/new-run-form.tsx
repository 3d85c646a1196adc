'use client';

import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { CreatedRunSchema } from '../../core/api/runs.ts';
import { ApiCallError, sendAdmin } from './fetch-api.ts';
import { describeZodError } from '../../core/protocol/messages.ts';

/** The config the editor starts with: the default MNIST CNN experiment, shortened. */
export const DEFAULT_RUN_YAML = `name: mnist-cnn
experiment: mnist
model:
  type: cnn
  conv: [{ filters: 8, kernel_size: 5 }]
dataset: { name: mnist }
optimizer: { name: adam, lr: 0.001 }
batch_size: 32
total_updates: 300
eval_every: 50
checkpoint_every: 100
`;

/**
 * Splits the coordinator's "invalid run config: a.b: msg; c: msg" into field → message pairs,
 * so errors can be shown next to the field they name.
 * @example fieldErrors('invalid run config: batch_size: Too small') // [['batch_size', 'Too small']]
 */
export function fieldErrors(message: string): [string, string][] {
  const body = message.replace(/^invalid run config:\s*/, '');
  if (body === message) return [];
  return body.split('; ').map((part) => {
    const i = part.indexOf(': ');
    return i === -1 ? ['(config)', part] : [part.slice(0, i), part.slice(i + 2)];
  });
}

/** New run: a YAML editor validated by the coordinator with the CLI's zod schema; errors listed by field. */
export function NewRunForm() {
  const router = useRouter();
  const [yaml, setYaml] = useState(DEFAULT_RUN_YAML);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const fields = error ? fieldErrors(error) : [];
  const lines = yaml.split('\n');
  const lineOf = (field: string) => {
    const top = field.split('.')[0] ?? field;
    const i = lines.findIndex((l) => l.startsWith(`${top}:`));
    return i === -1 ? null : i + 1;
  };

  return (
    <form
      className="space-y-3"
      onSubmit={(e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        sendAdmin('POST', '/api/v1/runs', yaml, 'application/yaml')
          .then((body) => {
            const parsed = CreatedRunSchema.safeParse(body);
            if (parsed.success) router.push(`/runs/${parsed.data.run.id}`);
            else setError(`the coordinator answered POST /api/v1/runs with an unexpected body: ${describeZodError(parsed.error)}`);
          })
          .catch((err: unknown) => setError(err instanceof ApiCallError || err instanceof Error ? err.message : String(err)))
          .finally(() => setBusy(false));
      }}
    >
      <label htmlFor="run-config" className="block text-sm font-medium text-slate-700">
        Run config (YAML, same schema as <code>npm start -- --config FILE</code>)
      </label>
      <textarea
        id="run-config"
        value={yaml}
        onChange={(e) => setYaml(e.target.value)}
        spellCheck={false}
        rows={20}
        className="w-full rounded-lg border border-slate-300 bg-white p-3 font-mono text-sm"
      />
      {error ? (
        <div role="alert" className="rounded-lg border border-rose-200 bg-rose-50 px-4 py-2 text-sm text-rose-800">
          {fields.length > 0 ? (
            <ul className="space-y-1" data-testid="field-errors">
              {fields.map(([field, msg]) => (
                <li key={field + msg}>
                  <code className="font-semibold">{field}</code>
                  {lineOf(field) ? <span className="text-rose-600"> (line {lineOf(field)})</span> : null}: {msg}
                </li>
              ))}
            </ul>
          ) : (
            error
          )}
        </div>
      ) : null}
      <button type="submit" disabled={busy} className="rounded bg-blue-600 px-4 py-2 text-sm font-medium text-white hover:bg-blue-500 disabled:opacity-50">
        {busy ? 'starting…' : 'Start run'}
      </button>
      <p className="text-xs text-slate-500">Starting a run needs the admin token (top right). Only one run trains at a time.</p>
    </form>
  );
}
