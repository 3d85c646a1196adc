// Next.js configuration for the crowdtrain dashboard, served by the coordinator's own HTTP server.
// Type errors are caught by `npm run typecheck` (tsc over the whole repository), so `next build`
// skips its own type check to stay fast.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));

/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  typescript: { ignoreBuildErrors: true },
  turbopack: { root },
  outputFileTracingRoot: root,
};

export default nextConfig;
