import { createHash } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import { UploadListSchema, UploadedTableSchema, type UploadedTable } from '../../../core/api/datasets.ts';
import { CrowdtrainError } from '../../../core/protocol/errors.ts';
import { listUploadedTables, storeUploadedTable } from '../../data/table-uploads.ts';
import type { CoordinatorApi } from '../coordinator-api.ts';
import { HttpError, parseWith, queryObject } from '../http-io.ts';
import { jsonRoute, type Route } from '../route.ts';

/** The query of an upload: `overwrite=1` replaces a stored file; `delimiter` for csv (`,` `;` `tab` `|`). */
export const UploadQuerySchema = z.strictObject({
  overwrite: z.enum(['0', '1', 'true', 'false']).optional(),
  delimiter: z.enum([',', ';', 'tab', '|']).optional(),
});

/** Column names that usually hold the label, lower case. */
const LABEL_NAMES = ['label', 'target', 'class', 'y', 'outcome', 'species', 'category'];

/** The label to suggest: a column with a usual label name, else the last categorical column with 2-256 values, else the last column. */
export function suggestedLabel(columns: readonly { name: string; kind: string; distinct: number }[]): string {
  const named = columns.find((c) => LABEL_NAMES.includes(c.name.toLowerCase()));
  if (named) return named.name;
  const categorical = columns.filter((c) => c.kind === 'categorical' && c.distinct >= 2 && c.distinct <= 256).at(-1);
  return categorical?.name ?? columns.at(-1)?.name ?? '';
}

/**
 * A `dataset:` section for a run on an uploaded file: its path, a label to start from
 * ({@link suggestedLabel}), and `sha256` pinning exactly these bytes (the one-file manifest hash of
 * docs/datasets.md), so a run on it refuses a later overwrite instead of training on other data.
 */
function suggestedSpec(t: Omit<UploadedTable, 'spec'>, delimiter: string | undefined): Record<string, unknown> {
  const label = suggestedLabel(t.columns);
  const sha256 = createHash('sha256').update(`${t.sha256}  ${t.file}\n`).digest('hex');
  return { name: 'csv', path: t.path, label, ...(delimiter && delimiter !== ',' ? { delimiter } : {}), sha256 };
}

/**
 * Uploading your own tables (admin): `PUT /api/v1/datasets/uploads/:folder/:file` streams the body
 * to `<dataDir>/datasets/<folder>/<file>` (coordinator/data/table-uploads.ts: limited, hashed, read
 * back as a table before it is kept), and `GET /api/v1/datasets/uploads` lists what is stored.
 */
export function datasetUploadRoutes(c: CoordinatorApi): Route[] {
  return [
    jsonRoute({
      method: 'GET',
      pattern: /^\/api\/v1\/datasets\/uploads$/,
      response: UploadListSchema,
      async handle() {
        const uploads = await listUploadedTables(c.dataDir);
        return { status: 200, body: { uploads: uploads.map((u) => ({ ...u, modifiedAt: u.modifiedAt.toISOString() })) } };
      },
    }),
    jsonRoute({
      method: 'PUT',
      pattern: /^\/api\/v1\/datasets\/uploads\/([^/]+)\/([^/]+)$/,
      admin: true,
      response: UploadedTableSchema,
      async handle({ req, url, params }) {
        const q = parseWith(UploadQuerySchema, queryObject(url), 'upload query');
        const declared = Number(req.headers['content-length'] ?? 0);
        if (declared > c.maxUploadBytes) throw new HttpError(413, 'OVERSIZED', `upload of ${declared} bytes exceeds the limit of ${c.maxUploadBytes} bytes (--max-upload-mb)`);
        const delimiter = q.delimiter === 'tab' ? '\t' : q.delimiter;
        let stored;
        try {
          stored = await storeUploadedTable({
            dataDir: c.dataDir,
            folder: params[0] ?? '',
            file: params[1] ?? '',
            body: req,
            maxBytes: c.maxUploadBytes,
            overwrite: q.overwrite === '1' || q.overwrite === 'true',
            ...(delimiter ? { delimiter } : {}),
          });
        } catch (err) {
          if (err instanceof CrowdtrainError && err.code === 'OVERSIZED') throw new HttpError(413, 'OVERSIZED', err.message, { cause: err });
          throw err;
        }
        const spec = suggestedSpec(stored, delimiter ?? (path.extname(stored.file).toLowerCase() === '.tsv' ? '\t' : undefined));
        return { status: 201, body: { ...stored, spec } };
      },
    }),
  ];
}
