'use client';

import Link from 'next/link';
import { useCallback, useEffect, useState } from 'react';
import { stringify as toYaml } from 'yaml';
import {
  DatasetDetailSchema,
  DatasetListSchema,
  RunInputsSchema,
  UploadListSchema,
  UploadedTableSchema,
  type DatasetDetail,
  type DatasetList,
  type RunInputs,
  type UploadList,
  type UploadedTable,
} from '../../core/api/datasets.ts';
import { getJson, sendAdmin } from './fetch-api.ts';
import { formatBytes, formatWhen, statusClasses } from './format.ts';

/** Rows and class counts of a version's profile, when it has ours (an MLflow client's profile is free text). */
interface ClassProfile {
  rows: { train: number; test: number };
  classes: { name: string; train: number; test: number }[];
}

function classProfile(profile: unknown): ClassProfile | null {
  const p = profile as Partial<ClassProfile> | null;
  if (!p || typeof p !== 'object' || !Array.isArray(p.classes) || !p.rows) return null;
  return p as ClassProfile;
}

function useJson<T>(url: string, parse: (url: string) => Promise<T>): { data: T | null; error: string | null } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    parse(url)
      .then((d) => live && (setData(d), setError(null)))
      .catch((err: unknown) => live && setError(err instanceof Error ? err.message : String(err)));
    return () => {
      live = false;
    };
  }, [url, parse]);
  return { data, error };
}

const loadList = (url: string) => getJson(url, DatasetListSchema);
const loadDetail = (url: string) => getJson(url, DatasetDetailSchema);

function Alert({ text }: { text: string }) {
  return <p role="alert" className="rounded-lg border border-rose-200 bg-rose-50 px-4 py-2 text-sm text-rose-800">{text}</p>;
}

/** The short form of a digest (its first 12 hex digits), the whole one on hover. */
function Digest({ digest }: { digest: string }) {
  return (
    <code title={digest} className="font-mono text-xs text-slate-700">
      {digest.slice(0, 12)}
    </code>
  );
}

const loadUploads = (url: string) => getJson(url, UploadListSchema);

/** The result of an upload: rows, the columns as inference reads them, and a `dataset:` section to train on it. */
function UploadResult({ up }: { up: UploadedTable }) {
  return (
    <div className="space-y-2 text-sm" data-testid="upload-result">
      <p>
        Stored <code className="font-mono text-xs">{up.path}</code>: {up.rows.toLocaleString('en-US')} rows, {formatBytes(up.bytes)}, sha256 <Digest digest={up.sha256} />
      </p>
      <table className="text-xs">
        <thead className="text-left uppercase tracking-wide text-slate-500">
          <tr>
            <th className="py-1 pr-4">Column</th>
            <th className="py-1 pr-4">Kind</th>
            <th className="py-1 pr-4">Missing</th>
            <th className="py-1">Distinct</th>
          </tr>
        </thead>
        <tbody>
          {up.columns.map((c) => (
            <tr key={c.name}>
              <td className="py-0.5 pr-4 font-medium">{c.name}</td>
              <td className={`py-0.5 pr-4 ${c.kind === 'mixed' ? 'text-rose-700' : ''}`}>{c.kind}</td>
              <td className="py-0.5 pr-4 tabular-nums">{c.missing}</td>
              <td className="py-0.5 tabular-nums">{c.kind === 'numeric' ? '—' : c.distinct}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="text-xs text-slate-500">Train on it with this section in a run config (New run page); check the label:</p>
      <pre className="overflow-auto rounded bg-slate-50 p-2 text-xs">{toYaml({ dataset: up.spec })}</pre>
    </div>
  );
}

/** Upload a CSV / TSV / JSON / JSONL table into a folder under the coordinator's data dir (needs the admin token). */
function UploadForm({ onUploaded }: { onUploaded: () => void }) {
  const [folder, setFolder] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<UploadedTable | null>(null);
  return (
    <section className="space-y-3 rounded-xl border border-slate-200 bg-white p-5 shadow-sm">
      <h2 className="text-lg font-semibold">Upload a table</h2>
      <form
        className="flex flex-wrap items-center gap-2 text-sm"
        onSubmit={(e) => {
          e.preventDefault();
          if (!file) return;
          setBusy(true);
          setError(null);
          const target = folder.trim() || file.name.replace(/\.[^.]*$/, '');
          sendAdmin('PUT', `/api/v1/datasets/uploads/${encodeURIComponent(target)}/${encodeURIComponent(file.name)}`, file, 'text/plain')
            .then((body) => {
              setResult(UploadedTableSchema.parse(body));
              onUploaded();
            })
            .catch((err: unknown) => setError(err instanceof Error ? err.message : String(err)))
            .finally(() => setBusy(false));
        }}
      >
        <input aria-label="upload folder" placeholder="folder (default: the file's stem)" value={folder} onChange={(e) => setFolder(e.target.value)} className="w-56 rounded border border-slate-300 px-2 py-1" />
        <input aria-label="upload file" type="file" accept=".csv,.tsv,.json,.jsonl,.ndjson" onChange={(e) => setFile(e.target.files?.[0] ?? null)} className="text-xs" />
        <button type="submit" disabled={!file || busy} className="rounded bg-slate-700 px-3 py-1 text-white hover:bg-slate-600 disabled:opacity-50">
          {busy ? 'Uploading…' : 'Upload'}
        </button>
      </form>
      {error ? <Alert text={error} /> : null}
      {result ? <UploadResult up={result} /> : null}
    </section>
  );
}

/** The tables uploaded to the coordinator, by folder. */
function UploadsTable({ version }: { version: number }) {
  const { data } = useJson<UploadList>(`/api/v1/datasets/uploads?v=${version}`, loadUploads);
  if (!data || data.uploads.length === 0) return null;
  return (
    <table className="min-w-full rounded-xl border border-slate-200 bg-white text-sm shadow-sm" data-testid="uploads-table">
      <thead className="text-left text-xs uppercase tracking-wide text-slate-500">
        <tr>
          <th className="px-4 py-2">Uploaded file</th>
          <th className="px-4 py-2">Path</th>
          <th className="px-4 py-2">Size</th>
          <th className="px-4 py-2">Modified</th>
        </tr>
      </thead>
      <tbody>
        {data.uploads.map((u) => (
          <tr key={u.path} className="border-t border-slate-100">
            <td className="px-4 py-2 font-medium">
              {u.folder}/{u.file}
            </td>
            <td className="px-4 py-2 font-mono text-xs text-slate-600">{u.path}</td>
            <td className="px-4 py-2">{formatBytes(u.bytes)}</td>
            <td className="px-4 py-2 text-slate-600">{formatWhen(u.modifiedAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** `/datasets`: the upload form, the uploaded files, and every data set runs trained on. */
export function DatasetsPageView() {
  const [version, setVersion] = useState(0);
  const bump = useCallback(() => setVersion((v) => v + 1), []);
  return (
    <div className="space-y-4">
      <UploadForm onUploaded={bump} />
      <UploadsTable version={version} />
      <DatasetListView />
    </div>
  );
}

/** Every data set runs trained on, its newest version and how many versions and runs it has. */
export function DatasetListView() {
  const { data, error } = useJson<DatasetList>('/api/v1/datasets', loadList);
  if (error) return <Alert text={error} />;
  if (!data) return <p className="text-sm text-slate-500">Loading…</p>;
  if (data.datasets.length === 0) {
    return <p className="rounded-xl border border-dashed border-slate-300 bg-white p-8 text-center text-sm text-slate-500">No data sets yet: every run records the data set it trains on here.</p>;
  }
  return (
    <table className="min-w-full rounded-xl border border-slate-200 bg-white text-sm shadow-sm" data-testid="datasets-table">
      <thead className="text-left text-xs uppercase tracking-wide text-slate-500">
        <tr>
          <th className="px-4 py-2">Data set</th>
          <th className="px-4 py-2">Latest version</th>
          <th className="px-4 py-2">Digest</th>
          <th className="px-4 py-2">Source</th>
          <th className="px-4 py-2">Versions</th>
          <th className="px-4 py-2">Runs</th>
          <th className="px-4 py-2">Created</th>
        </tr>
      </thead>
      <tbody>
        {data.datasets.map((d) => (
          <tr key={d.id} className="border-t border-slate-100">
            <td className="px-4 py-2 font-medium">
              <Link href={`/datasets/${d.id}`} className="text-sky-700 hover:underline">
                {d.name}
              </Link>
            </td>
            <td className="px-4 py-2">{d.latest ? `v${d.latest.version}` : '—'}</td>
            <td className="px-4 py-2">{d.latest ? <Digest digest={d.latest.digest} /> : '—'}</td>
            <td className="px-4 py-2 text-slate-600">{d.latest?.sourceType ?? '—'}</td>
            <td className="px-4 py-2">{d.versionCount}</td>
            <td className="px-4 py-2">{d.runCount}</td>
            <td className="px-4 py-2 text-slate-600">{formatWhen(d.createdAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Train and test counts of each class as horizontal bars, scaled to the largest count. */
function ClassHistogram({ profile }: { profile: ClassProfile }) {
  const max = Math.max(1, ...profile.classes.flatMap((c) => [c.train, c.test]));
  return (
    <table className="text-xs" aria-label="class histogram">
      <thead className="text-left uppercase tracking-wide text-slate-500">
        <tr>
          <th className="py-1 pr-3">Class</th>
          <th className="py-1 pr-3">Train ({profile.rows.train})</th>
          <th className="py-1">Test ({profile.rows.test})</th>
        </tr>
      </thead>
      <tbody>
        {profile.classes.map((c) => (
          <tr key={c.name}>
            <td className="py-0.5 pr-3 font-medium">{c.name}</td>
            {[c.train, c.test].map((n, i) => (
              <td key={i} className="py-0.5 pr-3">
                <div className="flex items-center gap-2">
                  <div className={`h-2 rounded ${i === 0 ? 'bg-sky-500' : 'bg-amber-500'}`} style={{ width: `${(120 * n) / max}px` }} />
                  <span className="tabular-nums text-slate-600">{n}</span>
                </div>
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function VersionCard({ v }: { v: DatasetDetail['versions'][number] }) {
  const profile = classProfile(v.profile);
  return (
    <section className="space-y-3 rounded-xl border border-slate-200 bg-white p-5 shadow-sm" data-testid={`dataset-version-${v.version}`}>
      <div className="flex flex-wrap items-baseline gap-3">
        <h2 className="text-lg font-semibold">v{v.version}</h2>
        <Digest digest={v.digest} />
        <span className="text-xs text-slate-500">
          {v.sourceType} · first used {formatWhen(v.createdAt)}
        </span>
      </div>
      <pre className="max-h-40 overflow-auto rounded bg-slate-50 p-2 text-xs text-slate-700">{typeof v.source === 'string' ? v.source : JSON.stringify(v.source, null, 2)}</pre>
      {profile ? <ClassHistogram profile={profile} /> : null}
      <div>
        <h3 className="text-xs font-semibold uppercase tracking-wide text-slate-500">Runs</h3>
        <ul className="mt-1 flex flex-wrap gap-2 text-sm">
          {v.runs.map((r) => (
            <li key={`${r.runId}-${r.context}`}>
              <Link href={`/runs/${r.runId}`} className="text-sky-700 hover:underline">
                {r.runName}
              </Link>{' '}
              <span className={`rounded px-1.5 py-0.5 text-xs ${statusClasses(r.status)}`}>{r.status}</span> <span className="text-xs text-slate-500">{r.context}</span>
            </li>
          ))}
        </ul>
      </div>
    </section>
  );
}

/** `/datasets/:id`: one data set's versions (newest first), each with its source, class histogram and the runs that used it. */
export function DatasetDetailView({ datasetId }: { datasetId: string }) {
  const { data, error } = useJson<DatasetDetail>(`/api/v1/datasets/${encodeURIComponent(datasetId)}`, loadDetail);
  if (error) return <Alert text={error} />;
  if (!data) return <p className="text-sm text-slate-500">Loading…</p>;
  return (
    <div className="space-y-4">
      <h1 className="text-2xl font-bold tracking-tight">{data.dataset.name}</h1>
      {data.versions.map((v) => (
        <VersionCard key={v.id} v={v} />
      ))}
    </div>
  );
}

const loadInputs = (url: string) => getJson(url, RunInputsSchema);

/** One line for a run page: the data set version(s) the run used, linked to their pages (reads `GET /api/v1/runs/:id/inputs`). */
export function RunDatasetLine({ runId }: { runId: string }) {
  const { data } = useJson<RunInputs>(`/api/v1/runs/${encodeURIComponent(runId)}/inputs`, loadInputs);
  if (!data || data.inputs.length === 0) return null;
  return (
    <p className="text-sm text-slate-600" data-testid="run-dataset">
      {data.inputs.map((i, k) => (
        <span key={`${i.dataset.id}-${i.context}`}>
          {k > 0 ? ' · ' : ''}
          {i.context} data:{' '}
          <Link href={`/datasets/${i.dataset.datasetId}`} className="text-sky-700 hover:underline">
            {i.dataset.name} v{i.dataset.version}
          </Link>{' '}
          <Digest digest={i.dataset.digest} />
        </span>
      ))}
    </p>
  );
}
