// Generates the Prisma clients (SQLite and PostgreSQL, same models) offline after `npm install`.
// `prisma generate` only needs the wasm query compiler, but the CLI insists on a schema-engine
// binary path, which is never downloaded here: any existing executable satisfies the check.
// Skips a client whose schema and Prisma version are unchanged since it was last generated.
// Quiet on success; prints the CLI's output and exits non-zero on failure.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const prismaCli = require.resolve('prisma/build/index.js');
const prismaVersion = require('prisma/package.json').version;

const clients = [
  { schema: 'prisma/schema.prisma', output: 'prisma/generated/sqlite' },
  { schema: 'prisma/postgres/schema.prisma', output: 'prisma/generated/postgresql' },
];

const env = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1', PRISMA_SKIP_POSTINSTALL_GENERATE: '1' };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY || !existsSync(env.PRISMA_SCHEMA_ENGINE_BINARY)) {
  env.PRISMA_SCHEMA_ENGINE_BINARY = process.execPath;
}

function fingerprint(schemaPath) {
  return createHash('sha256').update(prismaVersion).update('\0').update(readFileSync(join(root, schemaPath))).digest('hex');
}

function generate({ schema, output }) {
  const stamp = join(root, output, '.fingerprint');
  const wanted = fingerprint(schema);
  if (existsSync(join(root, output, 'client.ts')) && existsSync(stamp) && readFileSync(stamp, 'utf8') === wanted) {
    return Promise.resolve({ schema, skipped: true });
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [prismaCli, 'generate', '--schema', schema, '--no-hints'], { cwd: root, env });
    let log = '';
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`prisma generate --schema ${schema} exited with ${code}:\n${log}`));
        return;
      }
      writeFileSync(stamp, wanted);
      resolve({ schema, skipped: false });
    });
  });
}

try {
  const started = Date.now();
  const results = await Promise.all(clients.map(generate));
  const made = results.filter((r) => !r.skipped).map((r) => r.schema);
  if (made.length > 0) console.log(`crowdtrain: generated Prisma clients for ${made.join(', ')} in ${Date.now() - started} ms`);
} catch (err) {
  console.error(`crowdtrain postinstall failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
