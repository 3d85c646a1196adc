'use client';

import Link from 'next/link';
import { useCallback, useEffect, useState } from 'react';
import { ModelListSchema, type ModelList } from '../../core/api/index.ts';
import { getJson, sendAdmin } from './fetch-api.ts';
import { formatWhen } from './format.ts';

function AliasForm({ model, onDone }: { model: string; onDone: (msg: string) => void }) {
  const [alias, setAlias] = useState('champion');
  const [version, setVersion] = useState('');
  return (
    <form
      className="flex items-center gap-2 text-xs"
      onSubmit={(e) => {
        e.preventDefault();
        sendAdmin('PUT', `/api/v1/models/${encodeURIComponent(model)}/aliases/${encodeURIComponent(alias)}`, { version: Number(version) })
          .then(() => onDone(`${model}@${alias} now points at v${version}`))
          .catch((err: unknown) => onDone(err instanceof Error ? err.message : String(err)));
      }}
    >
      set alias
      <input aria-label={`alias for ${model}`} value={alias} onChange={(e) => setAlias(e.target.value)} className="w-24 rounded border border-slate-300 px-1 py-0.5" />
      to version
      <input aria-label={`version for ${model}`} value={version} onChange={(e) => setVersion(e.target.value)} className="w-12 rounded border border-slate-300 px-1 py-0.5" inputMode="numeric" required />
      <button type="submit" className="rounded bg-slate-700 px-2 py-0.5 text-white hover:bg-slate-600">
        set
      </button>
    </form>
  );
}

/** The model registry: models, their versions with aliases and lineage back to the run and step. Versions are registered from a run's checkpoints (run page). */
export function RegistryView() {
  const [models, setModels] = useState<ModelList['models'] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const load = useCallback(async () => {
    try {
      setModels((await getJson('/api/v1/models', ModelListSchema)).models);
      setError(null);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  if (error) return <p role="alert" className="rounded-lg border border-rose-200 bg-rose-50 px-4 py-2 text-sm text-rose-800">{error}</p>;
  if (!models) return <p className="text-sm text-slate-500">Loading…</p>;
  return (
    <div className="space-y-4">
      {notice ? (
        <p role="status" className="rounded-lg border border-slate-200 bg-white px-4 py-2 text-sm text-slate-700">
          {notice}
        </p>
      ) : null}
      {models.length === 0 ? (
        <p className="rounded-xl border border-dashed border-slate-300 bg-white p-8 text-center text-sm text-slate-500">
          No registered models yet. Register a checkpoint from a run&apos;s page.
        </p>
      ) : null}
      {models.map((m) => (
        <section key={m.id} className="rounded-xl border border-slate-200 bg-white p-5 shadow-sm" data-testid={`model-${m.name}`}>
          <div className="flex flex-wrap items-baseline justify-between gap-2">
            <h2 className="text-lg font-semibold">{m.name}</h2>
            <AliasForm
              model={m.name}
              onDone={(msg) => {
                setNotice(msg);
                void load();
              }}
            />
          </div>
          {m.description ? <p className="text-sm text-slate-600">{m.description}</p> : null}
          <table className="mt-3 min-w-full text-sm">
            <thead className="text-left text-xs uppercase tracking-wide text-slate-500">
              <tr>
                <th className="py-2 pr-4">Version</th>
                <th className="py-2 pr-4">Aliases</th>
                <th className="py-2 pr-4">Source run</th>
                <th className="py-2 pr-4">Step</th>
                <th className="py-2 pr-4">Description</th>
                <th className="py-2 pr-4">Registered</th>
                <th className="py-2 pr-4">Export</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {m.versions.map((v) => (
                <tr key={v.id}>
                  <td className="py-2 pr-4 font-medium">v{v.version}</td>
                  <td className="py-2 pr-4">
                    {v.aliases.map((a) => (
                      <span key={a} className="mr-1 rounded bg-purple-100 px-1.5 text-xs text-purple-800">
                        @{a}
                      </span>
                    ))}
                  </td>
                  <td className="py-2 pr-4">
                    {v.sourceRunId ? (
                      <Link href={`/runs/${v.sourceRunId}`} className="text-blue-700 hover:underline">
                        {v.sourceRunName ?? v.sourceRunId}
                      </Link>
                    ) : (
                      '–'
                    )}
                  </td>
                  <td className="py-2 pr-4 tabular-nums">{v.sourceStep ?? '–'}</td>
                  <td className="py-2 pr-4 text-slate-600">{v.description ?? ''}</td>
                  <td className="py-2 pr-4 text-slate-600">{formatWhen(v.createdAt)}</td>
                  <td className="space-x-2 py-2 pr-4 text-xs">
                    <a className="text-blue-700 hover:underline" href={`/api/v1/models/${encodeURIComponent(m.name)}/versions/${v.version}/model.json`}>
                      model.json
                    </a>
                    <a className="text-blue-700 hover:underline" href={`/api/v1/models/${encodeURIComponent(m.name)}/versions/${v.version}/weights.bin`}>
                      weights.bin
                    </a>
                    <Link className="text-blue-700 hover:underline" href={`/registry/${encodeURIComponent(m.name)}/try?version=${v.version}`}>
                      try it
                    </Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ))}
    </div>
  );
}
