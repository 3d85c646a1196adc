import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { CheckpointListSchema } from '../../../core/api/checkpoints.ts';
import type { CoordinatorApi } from '../coordinator-api.ts';
import { HttpError } from '../http-io.ts';
import { jsonRoute, rawRoute, type Route } from '../route.ts';
import { checkpointView } from './api-views.ts';
import { RUN_ID, findCheckpoint, requireRun } from './run-lookup.ts';

/** Checkpoints: a run's list, and the download of one file (`latest`, `best`, a step or a checkpoint id). */
export function checkpointRoutes(c: CoordinatorApi): Route[] {
  return [
    jsonRoute({
      method: 'GET',
      pattern: /^\/api\/v1\/runs\/([^/]+)\/checkpoints$/,
      response: CheckpointListSchema,
      async handle({ params }) {
        const run = await requireRun(c.store, params[0]);
        const rows = await c.store.listCheckpoints(run.id);
        return { status: 200, body: { runId: run.id, checkpoints: rows.map((ck) => checkpointView(run.id, ck)) } };
      },
    }),
    rawRoute({
      method: 'GET',
      pattern: /^\/api\/v1\/runs\/([^/]+)\/checkpoints\/([^/]+)\/download$/,
      async handle({ req, res, params }) {
        const run = await requireRun(c.store, params[0]);
        const which = params[1] ?? '';
        if (!RUN_ID.test(which)) throw new HttpError(400, 'INVALID_MESSAGE', `"${which}" is not latest, best, a step or a checkpoint id`);
        const ck = await findCheckpoint(c.store, run.id, which);
        let size: number;
        try {
          size = (await stat(ck.path)).size;
        } catch (err) {
          throw new HttpError(410, 'CHECKPOINT_INVALID', `checkpoint ${ck.id} of run ${run.id} (step ${ck.step}) is recorded but its file ${ck.path} is gone`, { cause: err });
        }
        const filename = `${run.name.replace(/[^A-Za-z0-9._-]/g, '_')}-${run.id}-step-${ck.step}.ckpt`;
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': String(size),
          'content-disposition': `attachment; filename="${filename}"`,
          'x-checkpoint-sha256': ck.sha256,
          'x-checkpoint-step': String(ck.step),
          'cache-control': 'no-store',
        });
        if (req.method === 'HEAD') {
          res.end();
          return;
        }
        await new Promise<void>((resolve, reject) => {
          const stream = createReadStream(ck.path);
          stream.on('error', reject);
          res.on('close', () => resolve());
          stream.pipe(res);
        });
      },
    }),
  ];
}
