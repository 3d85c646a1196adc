// Next.js configuration for the crowdtrain dashboard, served by the coordinator's own HTTP server.
// Type errors are caught by `npm run typecheck` (tsc over the whole repository), so `next build`
// skips its own type check to stay fast.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));

/**
 * The security headers of every page and asset — the same as coordinator/http/request-guard.ts
 * sends on API responses (tests/integration/next checks that they agree). The /contribute tab
 * compiles WebAssembly ('wasm-unsafe-eval') and may start blob: workers (threaded WASM); Next's
 * inline bootstrap scripts need 'unsafe-inline'; the QR code is a data: image; everything else
 * comes from, and connects only to, this origin ('self' covers same-origin ws:/wss:).
 * `next dev` also needs 'unsafe-eval' (React Refresh); production builds never get it.
 * @param {boolean} dev
 */
function securityHeaders(dev) {
  const csp = [
    "default-src 'self'",
    `script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'${dev ? " 'unsafe-eval'" : ''}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
  return [
    { key: 'Content-Security-Policy', value: csp },
    { key: 'X-Frame-Options', value: 'DENY' },
    { key: 'X-Content-Type-Options', value: 'nosniff' },
    { key: 'Referrer-Policy', value: 'no-referrer' },
  ];
}

/**
 * @param {string} phase
 * @returns {import('next').NextConfig}
 */
export default function nextConfig(phase) {
  return {
    reactStrictMode: true,
    poweredByHeader: false,
    typescript: { ignoreBuildErrors: true },
    turbopack: { root },
    outputFileTracingRoot: root,
    headers: () => Promise.resolve([{ source: '/:path*', headers: securityHeaders(phase === 'phase-development-server') }]),
  };
}
