import { z } from 'zod';
import { AggregatorSpecSchema } from '../../aggregate/robust/index.ts';
import { FedAdagradSpecSchema, FedAdamSpecSchema, FedYogiSpecSchema } from '../../optim/fed-adaptive-optimizer.ts';
import { AdamSpecSchema, AdamwSpecSchema, SgdSpecSchema } from '../../optim/optimizer-spec.ts';

/** FedAvg's server step (McMahan et al. 2017): `params -= lr × mean delta`; lr 1 sets the params to the clients' mean. */
export const FedAvgServerSchema = z.strictObject({ name: z.literal('fedavg'), lr: z.number().positive().finite().default(1) });

/** FedAvgM (Hsu et al. 2019, Flower's FedAvgM): heavy-ball momentum on the mean delta, `v = momentum·v + d; params -= lr·v`. */
export const FedAvgMServerSchema = z.strictObject({
  name: z.literal('fedavgm'),
  lr: z.number().positive().finite().default(1),
  momentum: z.number().min(0).lt(1).default(0.9),
});

/** The server optimizers, discriminated on `name`. */
export const ServerOptimizerSpecSchema = z.discriminatedUnion('name', [FedAvgServerSchema, FedAvgMServerSchema, FedAdamSpecSchema, FedYogiSpecSchema, FedAdagradSpecSchema]);

/** A validated server optimizer spec, defaults filled. */
export type ServerOptimizerSpec = z.infer<typeof ServerOptimizerSpecSchema>;

/** The client optimizers: SGD (with momentum), Adam, AdamW, fresh on each client every round. */
export const ClientOptimizerSpecSchema = z.discriminatedUnion('name', [SgdSpecSchema, AdamSpecSchema, AdamwSpecSchema]);

/**
 * The `fedavg:` section of a run config. Each round the coordinator samples clients among the
 * run's workers (`clients` of them, or `fraction` of those available, at least `min_clients`);
 * each gets `local_steps × batch_size` sample indices, trains `local_epochs` passes over them in
 * mini-batches of `batch_size` with the client optimizer (optionally FedProx's proximal term
 * `proximal_mu`), and returns its weight delta; the server optimizer applies the deltas' aggregate
 * (the sample-weighted mean, or the robust `aggregator` when one is set).
 * @example FedavgOptionsSchema.parse({ fraction: 0.5, server_optimizer: { name: 'fedadam' } })
 */
export const FedavgOptionsSchema = z
  .strictObject({
    /** Fraction of the available clients sampled each round, in (0, 1]. */
    fraction: z.number().gt(0).max(1).default(1),
    /** Clients sampled each round (overrides `fraction`). */
    clients: z.int().min(1).max(10_000).optional(),
    /** A round starts only with at least this many clients available, and is applied only if at least this many report (else retried). */
    min_clients: z.int().min(1).max(10_000).default(1),
    /** Mini-batches of `batch_size` in a client's slice per round (K). */
    local_steps: z.int().min(1).max(100_000).default(5),
    /** Passes over its slice a client trains per round (E). */
    local_epochs: z.int().min(1).max(1000).default(1),
    /** The client optimizer; absent: the run's `optimizer`. */
    client_optimizer: ClientOptimizerSpecSchema.optional(),
    /** FedProx (Li et al. 2020): adds `mu/2 ‖w − w_round‖²` to each client's loss; 0 is FedAvg. */
    proximal_mu: z.number().min(0).finite().default(0),
    server_optimizer: ServerOptimizerSpecSchema.default({ name: 'fedavg', lr: 1 }),
    /**
     * How the clients' deltas are combined before the server optimizer: a spec of
     * core/aggregate/robust's registry (e.g. `{ name: 'median' }`, Flower's FedMedian;
     * `{ name: 'trimmed_mean', beta: 0.2 }`, FedTrimmedAvg; `{ name: 'krum', f: 1 }`). Absent: the
     * sample-weighted mean (kept optional so an absent section parses as before).
     */
    aggregator: AggregatorSpecSchema.optional(),
  })
  .superRefine((o, ctx) => {
    if (o.clients !== undefined && o.clients < o.min_clients) {
      ctx.addIssue({ code: 'custom', path: ['clients'], message: `clients (${o.clients}) is below min_clients (${o.min_clients})` });
    }
  });

/** The parsed `fedavg:` section. */
export type FedavgOptions = z.infer<typeof FedavgOptionsSchema>;
