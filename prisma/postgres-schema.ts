import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CrowdtrainError } from '../core/protocol/errors.ts';

/** Absolute path of the prisma/ directory. */
export const PRISMA_DIR = dirname(fileURLToPath(import.meta.url));

/** Where each provider's schema file and migration history live. */
export const SCHEMA_LAYOUT = {
  sqlite: {
    schemaPath: join(PRISMA_DIR, 'schema.prisma'),
    migrationsDir: join(PRISMA_DIR, 'migrations'),
  },
  postgresql: {
    schemaPath: join(PRISMA_DIR, 'postgres', 'schema.prisma'),
    migrationsDir: join(PRISMA_DIR, 'postgres', 'migrations'),
  },
} as const;

const GENERATED_HEADER =
  '// GENERATED from prisma/schema.prisma by `npx tsx prisma/migrate.ts sync-schema`. Do not edit:\n' +
  '// change prisma/schema.prisma, then run `npx tsx prisma/migrate.ts diff --name <change>`.\n';

/**
 * Derives the PostgreSQL schema from the SQLite one: same models, only the datasource provider
 * and the generated client's output directory differ, so the two can never drift.
 * @example renderPostgresSchema(await readFile('prisma/schema.prisma', 'utf8'))
 */
export function renderPostgresSchema(sqliteSchema: string): string {
  const provider = /(datasource\s+db\s*\{[^}]*?provider\s*=\s*)"sqlite"/;
  const output = /(generator\s+client\s*\{[^}]*?output\s*=\s*)"\.\/generated\/sqlite"/;
  if (!provider.test(sqliteSchema)) {
    throw new CrowdtrainError('INVALID_CONFIG', 'prisma/schema.prisma must declare `datasource db { provider = "sqlite" }`');
  }
  if (!output.test(sqliteSchema)) {
    throw new CrowdtrainError('INVALID_CONFIG', 'prisma/schema.prisma must declare `generator client { output = "./generated/sqlite" }`');
  }
  const body = sqliteSchema
    .replace(provider, '$1"postgresql"')
    .replace(output, '$1"../generated/postgresql"');
  return GENERATED_HEADER + body;
}

/**
 * Rewrites prisma/postgres/schema.prisma from prisma/schema.prisma; returns true when the file changed.
 * @example await syncPostgresSchema() // false when already in sync
 */
export async function syncPostgresSchema(): Promise<boolean> {
  const wanted = renderPostgresSchema(await readFile(SCHEMA_LAYOUT.sqlite.schemaPath, 'utf8'));
  const current = await readFile(SCHEMA_LAYOUT.postgresql.schemaPath, 'utf8').catch(() => null);
  if (current === wanted) return false;
  await mkdir(dirname(SCHEMA_LAYOUT.postgresql.schemaPath), { recursive: true });
  await writeFile(SCHEMA_LAYOUT.postgresql.schemaPath, wanted);
  return true;
}
