'use client';

import { useEffect, useState } from 'react';
import { StatusSchema, type StatusJoin } from '../../core/api/status.ts';
import { ADMIN_TOKEN_STORAGE_KEY } from '../_dashboard/fetch-api.ts';
import { STATUS_URL } from '../use-polled-status.ts';

/**
 * The join info to show: `join` as polled when it carries the worker token (a `--public-join`
 * coordinator); otherwise, when this browser holds the admin token (the dashboard's "admin token"
 * field), the status fetched with it (until it answers with the token), which carries the token. Falls back to `join` (no
 * token, with its hint) when there is no admin token or it is refused.
 */
export function useJoinInfo(join: StatusJoin): StatusJoin {
  const [withToken, setWithToken] = useState<StatusJoin | null>(null);
  const hidden = join.contributePath === null;

  const have = withToken !== null;
  // Re-checked at every poll (a new `join` object), so a token pasted into the field counts within one poll.
  useEffect(() => {
    if (!hidden || have) return;
    const token = window.localStorage.getItem(ADMIN_TOKEN_STORAGE_KEY);
    if (!token) return;
    let cancelled = false;
    void fetch(STATUS_URL, { cache: 'no-store', headers: { authorization: `Bearer ${token}` } })
      .then(async (res) => (res.ok ? StatusSchema.safeParse(await res.json()) : null))
      .then((parsed) => {
        if (!cancelled && parsed?.success && parsed.data.join.contributePath !== null) setWithToken(parsed.data.join);
      })
      .catch(() => undefined); // the hint stays
    return () => {
      cancelled = true;
    };
  }, [hidden, have, join]);

  return hidden && withToken ? withToken : join;
}
