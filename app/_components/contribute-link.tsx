'use client';

import { useEffect, useState } from 'react';

/**
 * The browser join link for the active run, with a QR code for phones and laptops nearby.
 * `path` is `/contribute?token=…`; the link uses the origin this dashboard was opened on, so a QR
 * code shown on a LAN address points other devices at that address. A null `path` (the coordinator
 * withholds the worker token from this reader) shows `hint`: how to get the link.
 */
export function ContributeLink({ path, hint = null }: { path: string | null; hint?: string | null }) {
  const [url, setUrl] = useState<string | null>(null);
  const [qr, setQr] = useState<string | null>(null);

  useEffect(() => {
    if (path === null) {
      setUrl(null);
      setQr(null);
      return;
    }
    const absolute = new URL(path, window.location.origin).href;
    setUrl(absolute);
    let cancelled = false;
    void import('qrcode')
      .then((q) => q.toDataURL(absolute, { margin: 1, width: 176, errorCorrectionLevel: 'M' }))
      .then((data) => {
        if (!cancelled) setQr(data);
      })
      .catch(() => setQr(null)); // the link alone still works
    return () => {
      cancelled = true;
    };
  }, [path]);

  return (
    <section aria-labelledby="contribute-link" className="rounded-xl border border-slate-200 bg-white p-5 shadow-sm">
      <h2 id="contribute-link" className="text-base font-semibold text-slate-900">
        Join from a browser tab
      </h2>
      <div className="mt-3 flex flex-wrap items-center gap-5">
        {qr ? <img src={qr} width={176} height={176} alt="QR code of the join link" className="rounded-md border border-slate-200" data-testid="join-qr" /> : null}
        <div className="min-w-0 flex-1 space-y-2 text-sm text-slate-600">
          <p>Open this link on any device with a browser: the tab trains on its GPU (WebGPU or WebGL) while it stays open.</p>
          {url ? (
            <a href={url} className="block break-all font-mono text-indigo-700 underline hover:text-indigo-900" data-testid="join-link">
              {url}
            </a>
          ) : null}
          {path === null ? (
            <p className="rounded-md bg-amber-50 px-3 py-2 text-amber-900" data-testid="join-link-hint">
              The join link carries the worker token, which this coordinator shows only to its operator: {hint ?? 'ask the operator for the join link'}.
            </p>
          ) : null}
        </div>
      </div>
    </section>
  );
}
