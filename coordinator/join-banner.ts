import os from 'node:os';
import QRCode from 'qrcode';

/** The first non-internal IPv4 address of this machine (its LAN address), or null when it has none. */
export function lanIPv4(interfaces: ReturnType<typeof os.networkInterfaces> = os.networkInterfaces()): string | null {
  for (const list of Object.values(interfaces)) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return null;
}

/**
 * The base URL other machines join at: `localUrl` (the coordinator's own URL), with the LAN
 * address instead of loopback when the coordinator listens on every interface (`--host 0.0.0.0`).
 * @example joinBaseUrl('http://127.0.0.1:3000', '0.0.0.0') // 'http://192.168.1.20:3000'
 */
export function joinBaseUrl(localUrl: string, boundHost: string, lan: string | null = lanIPv4()): string {
  if ((boundHost !== '0.0.0.0' && boundHost !== '::') || lan === null) return localUrl;
  const u = new URL(localUrl);
  u.hostname = lan;
  return u.origin;
}

/** A tab's join link: `BASE/contribute?token=…`. */
export function contributeUrl(base: string, token: string): string {
  return `${base}/contribute?token=${encodeURIComponent(token)}`;
}

/**
 * The startup lines that say how to join: the headless worker command, the browser join link, a
 * terminal QR code of that link, and who the dashboard shows the token to.
 */
export async function joinBanner(opts: { localUrl: string; boundHost: string; token: string; publicJoin: boolean; lan?: string | null }): Promise<string[]> {
  const base = joinBaseUrl(opts.localUrl, opts.boundHost, opts.lan === undefined ? lanIPv4() : opts.lan);
  const link = contributeUrl(base, opts.token);
  const qr = await QRCode.toString(link, { type: 'terminal', small: true });
  return [
    `  join with:   npm run worker -- --url ${base} --token ${opts.token}`,
    `  browser tab: ${link}`,
    ...qr
      .split('\n')
      // eslint-disable-next-line no-control-regex -- the QR's ANSI colour codes
      .filter((l) => l.replace(/\x1b\[[0-9;]*m/g, '').trim() !== '')
      .map((l) => `    ${l}`),
    `  the dashboard shows the join link ${opts.publicJoin ? 'to everyone (--public-join)' : 'only with the admin token (--public-join shows it to everyone)'}`,
  ];
}
