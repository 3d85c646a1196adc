'use client';

import { useState } from 'react';

type CopyState = 'idle' | 'copied' | 'failed';

/**
 * The worker join command in a code box with a copy button. `hint` (set when the coordinator
 * withholds the worker token, so the command has a placeholder) says how to get the token.
 */
export function JoinCommand({ command, hint = null }: { command: string; hint?: string | null }) {
  const [copyState, setCopyState] = useState<CopyState>('idle');

  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(command);
      setCopyState('copied');
    } catch {
      setCopyState('failed');
    }
  };

  return (
    <section aria-labelledby="join" className="rounded-xl border border-slate-200 bg-white p-5 shadow-sm">
      <div className="flex items-center justify-between gap-2">
        <h2 id="join" className="text-base font-semibold text-slate-900">
          Join with a headless worker
        </h2>
        <button
          type="button"
          onClick={() => void copy()}
          className="rounded-md border border-slate-300 bg-white px-3 py-1 text-sm font-medium text-slate-700 hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
        >
          {copyState === 'copied' ? 'Copied' : 'Copy'}
        </button>
      </div>
      <pre className="mt-3 overflow-x-auto rounded-lg bg-slate-900 p-3 text-sm text-slate-100">
        <code>{command}</code>
      </pre>
      {hint ? (
        <p className="mt-2 text-xs text-slate-500" data-testid="join-command-hint">
          Replace <code>&lt;worker token&gt;</code>: {hint}.
        </p>
      ) : null}
      {copyState === 'failed' ? (
        <p className="mt-2 text-xs text-rose-700">The browser refused clipboard access; select the command and copy it by hand.</p>
      ) : null}
    </section>
  );
}
