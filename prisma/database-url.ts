import { isAbsolute, join, resolve } from 'node:path';
import { CrowdtrainError } from '../core/protocol/errors.ts';

/** The SQL providers crowdtrain's tracking store runs on. */
export type DatabaseProvider = 'sqlite' | 'postgresql';

/** A validated database URL: the provider, the URL itself and, for SQLite, the absolute file path. */
export type ParsedDatabaseUrl =
  | { provider: 'sqlite'; url: string; filePath: string }
  | { provider: 'postgresql'; url: string };

const SUPPORTED = 'file: (SQLite), postgres:// or postgresql:// (PostgreSQL)';

/**
 * The default SQLite URL for a data directory: `file:<dataDir>/crowdtrain.db` (absolute path).
 * @example defaultDatabaseUrl('/srv/crowdtrain/data') // 'file:/srv/crowdtrain/data/crowdtrain.db'
 */
export function defaultDatabaseUrl(dataDir: string): string {
  return `file:${join(resolve(dataDir), 'crowdtrain.db')}`;
}

/**
 * Validates a database URL and tells which provider serves it. SQLite URLs are `file:<path>`
 * (relative paths resolve against the working directory; `file://` URLs are accepted too);
 * PostgreSQL URLs start with `postgres://` or `postgresql://`. Anything else throws INVALID_CONFIG
 * naming the scheme and the supported ones.
 * @example parseDatabaseUrl('file:./data/crowdtrain.db').provider // 'sqlite'
 */
export function parseDatabaseUrl(url: string): ParsedDatabaseUrl {
  const trimmed = url.trim();
  if (trimmed.length === 0) {
    throw new CrowdtrainError('INVALID_CONFIG', `database URL is empty; supported: ${SUPPORTED}`);
  }
  if (/^postgres(ql)?:\/\//i.test(trimmed)) {
    let parsed: URL;
    try {
      parsed = new URL(trimmed);
    } catch (cause) {
      throw new CrowdtrainError('INVALID_CONFIG', `database URL "${redactDatabaseUrl(trimmed)}" is not a valid PostgreSQL URL`, { cause });
    }
    if (parsed.pathname.replace(/^\//, '').length === 0) {
      throw new CrowdtrainError('INVALID_CONFIG', `PostgreSQL URL "${redactDatabaseUrl(trimmed)}" names no database (expected postgresql://user@host:5432/dbname)`);
    }
    return { provider: 'postgresql', url: trimmed };
  }
  if (/^file:/i.test(trimmed)) {
    let path = trimmed.slice('file:'.length);
    if (path.startsWith('//')) {
      path = decodeURIComponent(new URL(trimmed).pathname);
    }
    const query = path.indexOf('?');
    if (query >= 0) path = path.slice(0, query);
    if (path.length === 0 || path === ':memory:') {
      throw new CrowdtrainError('INVALID_CONFIG', `SQLite URL "${trimmed}" names no file (":memory:" cannot hold tracking data across connections)`);
    }
    const filePath = isAbsolute(path) ? path : resolve(path);
    return { provider: 'sqlite', url: `file:${filePath}`, filePath };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(trimmed)?.[1];
  throw new CrowdtrainError(
    'INVALID_CONFIG',
    scheme === undefined
      ? `database URL "${redactDatabaseUrl(trimmed)}" has no scheme; supported: ${SUPPORTED}`
      : `database URL scheme "${scheme}:" is not supported; supported: ${SUPPORTED}`,
  );
}

/** The URL with any password replaced by `***`, safe for logs and error messages. */
export function redactDatabaseUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]+:)[^@]*@/i, '$1***@');
}
