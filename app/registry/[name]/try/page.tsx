import Link from 'next/link';
import { TryModel } from '../../../_dashboard/try-model.tsx';

/** `/registry/:name/try?version=N|alias`: draw a digit and see the exported model's prediction. */
export default async function TryModelPage({ params, searchParams }: { params: Promise<{ name: string }>; searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { name } = await params;
  const raw = (await searchParams).version;
  const version = (Array.isArray(raw) ? raw[0] : raw) ?? 'champion';
  return (
    <main className="mx-auto max-w-4xl space-y-4 px-4 py-8 sm:px-6">
      <p className="text-sm text-slate-500">
        <Link href="/registry" className="hover:underline">
          Registry
        </Link>{' '}
        / {decodeURIComponent(name)}
      </p>
      <h1 className="text-2xl font-bold tracking-tight">
        Try {decodeURIComponent(name)} @ {version}
      </h1>
      <p className="text-sm text-slate-600">
        Draw a digit (white on black). The model runs in this tab, loaded from{' '}
        <code>
          /api/v1/models/{decodeURIComponent(name)}/versions/{version}/model.json
        </code>
        .
      </p>
      <TryModel modelName={decodeURIComponent(name)} version={version} />
    </main>
  );
}
