// Next.js configuration for the crowdtrain dashboard, served by the coordinator's own HTTP server.
// Type errors are caught by `npm run typecheck` (tsc over the whole repository), so `next build`
// skips its own type check to stay fast.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import SHARED_SECURITY_HEADERS from './core/http/security-headers.json' with { type: 'json' };

const root = dirname(fileURLToPath(import.meta.url));

/**
 * The security headers of every page and asset: the one list in core/http/security-headers.json,
 * which coordinator/http/request-guard.ts sends on API responses (tests/integration/next checks
 * that they agree; request-guard.ts says why each source is allowed). `next dev` also needs
 * 'unsafe-eval' in script-src (React Refresh); production builds never get it.
 * @param {boolean} dev
 * @returns {{ key: string, value: string }[]}
 */
function securityHeaders(dev) {
  const csp = SHARED_SECURITY_HEADERS.contentSecurityPolicy
    .map((directive) => (dev && directive.startsWith('script-src ') ? `${directive} 'unsafe-eval'` : directive))
    .join('; ');
  return [{ key: 'Content-Security-Policy', value: csp }, ...Object.entries(SHARED_SECURITY_HEADERS.headers).map(([key, value]) => ({ key, value }))];
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
