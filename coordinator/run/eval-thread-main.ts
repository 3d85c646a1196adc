/**
 * The entry of a run's evaluation thread (node:worker_threads; started by {@link EvaluationThread}
 * in eval-thread.ts, never imported). It builds the run's model (seeded like the coordinator's),
 * holds the test split as one batch, and answers each request — a copy of the master parameters —
 * with the loss, accuracy and confusion matrix on the whole split, computed exactly as the
 * coordinator's in-thread evaluation (`RunModel.evaluate`: same tfjs backend, same batch size), so
 * the numbers are bitwise the same; or, asked for feature importance, with the permutation
 * importance of each source column (core/metrics/permutation-importance.ts). Requests are answered
 * one at a time, in the order they came.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import createDebug from 'debug';
import { GradientComputer } from '../../core/models/gradient-computer.ts';
import { datasetBatch } from '../../core/data/dataset.ts';
import { describeZodError } from '../../core/protocol/messages.ts';
import { parseBackendRequest, selectBackend } from '../../worker-node/backend/select-backend.ts';
import { permutationImportance } from '../../core/metrics/permutation-importance.ts';
import { EvalThreadInitSchema, ThreadRequestSchema, type EvalReply, type EvalThreadInit, type ImportanceRequest } from './eval-messages.ts';

const debug = createDebug('crowdtrain:eval-thread');

function reply(port: MessagePort, message: EvalReply): void {
  port.postMessage(message);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Permutation feature importance of the computer's current parameters on the test split: each
 * permuted copy is scored exactly as an evaluation is (same batch size), so the baseline equals
 * the evaluation of the same parameters.
 */
function importance(computer: GradientComputer, init: EvalThreadInit, ys: tf.Tensor, req: ImportanceRequest): EvalReply {
  const { test } = init;
  const width = test.features.length / test.size;
  const shape = [test.size, ...test.inputShape];
  const result = permutationImportance({
    groups: req.groups,
    features: test.features,
    rows: test.size,
    width,
    repeats: req.repeats,
    seed: req.seed,
    evaluate: (features) => {
      const xs = tf.tensor(features, shape, 'float32');
      try {
        const { loss, accuracy } = computer.evaluate(xs, ys, init.batchSize);
        return { loss, accuracy };
      } finally {
        xs.dispose();
      }
    },
  });
  return { type: 'importance', id: req.id, ...result };
}

async function serve(port: MessagePort): Promise<void> {
  const parsed = EvalThreadInitSchema.safeParse(workerData);
  if (!parsed.success) throw new Error(`invalid evaluation thread start data: ${describeZodError(parsed.error)}`);
  const init = parsed.data;
  // The coordinator thread's own backend (wasm under `npm start`, cpu in tests), set up the way
  // the coordinator set it up: the same kernels, the same sums.
  const choice = await selectBackend(parseBackendRequest(init.backend), { needsConvBackprop: false });
  if (choice.backend !== init.backend) throw new Error(`the evaluation thread of run ${init.runName} got backend ${choice.backend}, the coordinator evaluates on ${init.backend}`);
  await tf.ready();
  // Only silences tfjs's console notes (the "install tfjs-node" banner, once per thread otherwise).
  tf.enableProdMode();
  const computer = GradientComputer.create(init.model, { inputShape: init.test.inputShape, numClasses: init.test.numClasses, seed: init.seed });
  const built = computer.layout.totalSize;
  if (built !== init.paramCount) {
    computer.dispose();
    throw new Error(`the evaluation model of run ${init.runName} has ${built} parameters, the coordinator's has ${init.paramCount}`);
  }
  const { xs, ys } = datasetBatch(init.test, Array.from({ length: init.test.size }, (_, i) => i));
  port.on('message', (raw: unknown) => {
    const req = ThreadRequestSchema.safeParse(raw);
    if (!req.success) {
      reply(port, { type: 'error', id: null, message: `invalid evaluation request: ${describeZodError(req.error)}` });
      return;
    }
    const { id, params } = req.data;
    try {
      computer.setParams(params);
      if ('type' in req.data) {
        reply(port, importance(computer, init, ys, req.data));
        return;
      }
      const { loss, accuracy, confusion } = computer.evaluate(xs, ys, init.batchSize);
      reply(port, { type: 'result', id, loss, accuracy, confusion });
    } catch (err) {
      reply(port, { type: 'error', id, message: errorText(err) });
    }
  });
  debug('run %s: evaluation thread ready on %s (%d test samples, %d params)', init.runName, tf.getBackend(), init.test.size, init.paramCount);
  reply(port, { type: 'ready', backend: tf.getBackend() });
}

if (!parentPort) throw new Error('eval-thread-main.ts is the entry of an evaluation thread; start it with EvaluationThread.start()');
const port = parentPort;
serve(port).catch((err: unknown) => {
  reply(port, { type: 'error', id: null, message: errorText(err) });
  // Nothing else keeps the thread alive: it ends, and the coordinator side sees the exit.
  port.close();
});
