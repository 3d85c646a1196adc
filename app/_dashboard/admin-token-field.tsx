'use client';

import { useEffect, useState } from 'react';
import { ADMIN_TOKEN_STORAGE_KEY } from './fetch-api.ts';

/**
 * A small field where an operator pastes the admin token (printed location at coordinator start);
 * it is kept in this browser's localStorage and sent as a Bearer header on every write.
 */
export function AdminTokenField() {
  const [token, setToken] = useState('');
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    const stored = window.localStorage.getItem(ADMIN_TOKEN_STORAGE_KEY);
    if (stored) {
      setToken(stored);
      setSaved(true);
    }
  }, []);
  return (
    <form
      className="flex items-center gap-2 text-xs"
      onSubmit={(e) => {
        e.preventDefault();
        if (token.trim() === '') window.localStorage.removeItem(ADMIN_TOKEN_STORAGE_KEY);
        else window.localStorage.setItem(ADMIN_TOKEN_STORAGE_KEY, token.trim());
        setSaved(token.trim() !== '');
      }}
    >
      <label htmlFor="admin-token" className="text-slate-500">
        admin token
      </label>
      <input
        id="admin-token"
        type="password"
        value={token}
        onChange={(e) => {
          setToken(e.target.value);
          setSaved(false);
        }}
        placeholder="needed for start/stop/register"
        className="w-48 rounded border border-slate-300 px-2 py-1"
      />
      <button type="submit" className="rounded bg-slate-800 px-2 py-1 font-medium text-white hover:bg-slate-700">
        {saved ? 'saved' : 'save'}
      </button>
    </form>
  );
}
