import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { CheckpointListSchema } from '../../../core/api/checkpoints.ts';
import type { CoordinatorApi } from '../coordinator-api.ts';
import { HttpError } from '../http-io.ts';
import { jsonRoute, rawRoute, type Route } from '../route.ts';
import { checkpointView } from './api-views.ts';
import { RUN_ID, findCheckpoint, requireRun } from './run-lookup.ts';

/** The sha256 (hex) of an open file, read from its start without closing it. */
async function sha256OfHandle(fh: FileHandle): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fh.createReadStream({ start: 0, autoClose: false }) as AsyncIterable<Buffer>) hash.update(chunk);
  return hash.digest('hex');
}

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
        // One open file for the check and the download: a checkpoint replaced (renamed over) in between cannot slip through.
        let fh: FileHandle;
        try {
          fh = await open(ck.path, 'r');
        } catch (err) {
          throw new HttpError(410, 'CHECKPOINT_INVALID', `checkpoint ${ck.id} of run ${run.id} (step ${ck.step}) is recorded but its file ${ck.path} is gone`, { cause: err });
        }
        let handedToStream = false;
        try {
          const size = (await fh.stat()).size;
          // Never serve a file that is not the one recorded: verify it against the database's sha256 first.
          const actual = await sha256OfHandle(fh);
          if (actual !== ck.sha256) {
            throw new HttpError(
              409,
              'CHECKPOINT_INVALID',
              `checkpoint ${ck.id} of run ${run.id} (step ${ck.step}) is corrupt: its file ${ck.path} has sha256 ${actual}, the database recorded ${ck.sha256}; it is not served`,
            );
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
          handedToStream = true;
          await new Promise<void>((resolve, reject) => {
            const stream = fh.createReadStream({ start: 0 }); // closes the handle when done
            stream.on('error', reject);
            res.on('close', () => resolve());
            stream.pipe(res);
          });
        } finally {
          if (!handedToStream) await fh.close();
        }
      },
    }),
  ];
}
