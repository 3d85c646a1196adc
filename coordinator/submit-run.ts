import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { CreatedRunSchema } from '../core/api/runs.ts';
import { CrowdtrainError } from '../core/protocol/errors.ts';
import { ADMIN_TOKEN_FILE } from './http/admin-auth.ts';
import { readRunConfigFile } from './run-config-file.ts';

/** What `crowdtrain submit` needs: the config file, the coordinator and the admin token. */
export interface SubmitOptions {
  config: string;
  url: string;
  /** The admin token; else CROWDTRAIN_ADMIN_TOKEN (the caller passes it), else `<dataDir>/admin-token`. */
  adminToken?: string;
  dataDir: string;
}

/** The run a submit started. */
export interface SubmittedRun {
  runId: string;
  name: string;
  /** The run's dashboard page. */
  pageUrl: string;
}

/**
 * Starts a run on a coordinator that is already serving (beside the runs it trains), like
 * `ray job submit`: the config is validated here first (so a typo is reported before anything is
 * sent; a keras `model.path` is read and inlined), then POSTed as YAML to `/api/v1/runs` with the
 * admin token.
 * Throws CrowdtrainError naming the file, the token source or the coordinator's refusal.
 */
export async function submitRun(opts: SubmitOptions): Promise<SubmittedRun> {
  // Validated here; a keras `model.path` is inlined, and the inlined config is what is sent.
  const { text } = await readRunConfigFile(opts.config);
  const token = opts.adminToken ?? (await readAdminTokenFile(opts.dataDir));
  let res: Response;
  try {
    res = await fetch(new URL('/api/v1/runs', opts.url), {
      method: 'POST',
      headers: { 'content-type': 'application/yaml', authorization: `Bearer ${token}` },
      body: text,
    });
  } catch (err) {
    throw new CrowdtrainError('NO_ACTIVE_RUN', `coordinator ${opts.url} unreachable: ${(err as Error).message}; is it running (npm start)?`);
  }
  const body: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const e = (body as { error?: { code?: string; message?: string } } | null)?.error;
    throw new CrowdtrainError('INVALID_CONFIG', `coordinator refused the run (HTTP ${res.status}${e?.code ? ` ${e.code}` : ''}): ${e?.message ?? 'no reason given'}`);
  }
  const created = CreatedRunSchema.parse(body);
  return { runId: created.run.id, name: created.run.name, pageUrl: new URL(created.url, opts.url).toString() };
}

async function readAdminTokenFile(dataDir: string): Promise<string> {
  const file = path.join(dataDir, ADMIN_TOKEN_FILE);
  try {
    const token = (await readFile(file, 'utf8')).trim();
    if (token) return token;
  } catch {
    // reported below
  }
  throw new CrowdtrainError('BAD_TOKEN', `no admin token: pass --admin-token, set CROWDTRAIN_ADMIN_TOKEN, or run from the coordinator's data dir (${file} not found)`);
}
