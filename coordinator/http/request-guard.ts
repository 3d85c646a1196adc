import type http from 'node:http';
import os from 'node:os';
import SHARED_SECURITY_HEADERS from '../../core/http/security-headers.json' with { type: 'json' };

/**
 * The Content-Security-Policy of every response (API and dashboard), from the one list in
 * core/http/security-headers.json that next.config.js sends on the pages too (a test checks the two
 * agree). The /contribute tab runs tfjs on WebGPU, WebGL or WASM: compiling WebAssembly needs
 * 'wasm-unsafe-eval' (not 'unsafe-eval'), the threaded WASM backend starts blob: workers, and
 * Next's inline bootstrap scripts need 'unsafe-inline'. Everything is loaded from, and only
 * connected to, this origin ('self' also covers same-origin ws:/wss: for Socket.io); the QR code
 * is a data: image.
 */
export const CONTENT_SECURITY_POLICY = SHARED_SECURITY_HEADERS.contentSecurityPolicy.join('; ');

/** Security headers on every HTTP response of the coordinator, names lower-cased (the dashboard's are set by next.config.js from the same list). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  ...Object.fromEntries(Object.entries(SHARED_SECURITY_HEADERS.headers).map(([name, value]) => [name.toLowerCase(), value])),
};

/** Sets {@link SECURITY_HEADERS} on a response that has not started yet. */
export function setSecurityHeaders(res: http.ServerResponse): void {
  if (res.headersSent) return;
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
}

/** `--allowed-hosts` value that turns the Host check off (behind a reverse proxy that checks it). */
export const ANY_HOST = '*';

function normalizeHostName(name: string): string {
  let h = name.trim().toLowerCase();
  if (h.endsWith('.')) h = h.slice(0, -1);
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  return h;
}

/**
 * The host names the coordinator answers to: loopback (`127.0.0.1`, `localhost`, `::1`), the host
 * it is bound to, for a wildcard bind (`0.0.0.0`, `::`) every address of this machine's interfaces
 * and its hostname, plus `extra` (`--allowed-hosts`; `*` allows any).
 * @example servedHostNames('127.0.0.1', ['train.example.org'])
 */
export function servedHostNames(boundHost: string, extra: readonly string[] = []): string[] {
  const names = new Set(['127.0.0.1', 'localhost', '::1', normalizeHostName(boundHost)]);
  if (boundHost === '0.0.0.0' || boundHost === '::' || boundHost === '') {
    for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) names.add(normalizeHostName(a.address));
    const hostname = normalizeHostName(os.hostname());
    names.add(hostname);
    names.add(`${hostname}.local`);
  }
  for (const h of extra) if (h.trim() !== '') names.add(normalizeHostName(h));
  return [...names];
}

/** The host name of a Host header value (`name`, `name:port`, `[v6]:port`), lower-cased; null when there is none. */
export function hostNameOf(header: string | undefined): string | null {
  if (header === undefined || header.trim() === '') return null;
  const h = header.trim();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? null : normalizeHostName(h.slice(0, end + 1));
  }
  const colon = h.indexOf(':');
  return normalizeHostName(colon < 0 ? h : h.slice(0, colon));
}

/** Outcome of {@link checkHost}: allowed, or the status and message to refuse the request with. */
export type HostCheck = { ok: true } | { ok: false; status: 421; message: string };

/**
 * Checks a request's `Host` header against the names the coordinator serves (a DNS-rebinding
 * defence: a page on another domain that resolves to this address sends its own name).
 */
export function checkHost(req: http.IncomingMessage, allowed: readonly string[]): HostCheck {
  if (allowed.includes(ANY_HOST)) return { ok: true };
  const name = hostNameOf(req.headers.host);
  if (name !== null && allowed.includes(name)) return { ok: true };
  return {
    ok: false,
    status: 421,
    message:
      `this coordinator does not serve the host "${req.headers.host ?? ''}" (it answers to ${allowed.join(', ')}); ` +
      'start it with --allowed-hosts NAME to add a name it is reached by',
  };
}
