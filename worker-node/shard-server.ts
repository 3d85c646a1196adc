import os from 'node:os';
import { Command, Option, InvalidArgumentError } from 'commander';
import { io } from 'socket.io-client';
import { startShardOwner, type ShardOwner } from '../core/shard/shard-owner-client.ts';
import { CrowdtrainError } from '../core/protocol/errors.ts';

/**
 * The shard server CLI (`npm run shard-server`): a process that holds ranges of sharded runs'
 * parameters and optimizer state for a coordinator (`mode: sharded`) and computes no gradients.
 */

interface ShardServerCliOptions {
  url: string;
  token?: string;
  name: string;
  quiet: boolean;
}

function parseUrl(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new InvalidArgumentError(`"${value}" is not a URL; expected e.g. http://127.0.0.1:3000`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidArgumentError(`URL scheme must be http or https, got ${u.protocol}`);
  return u.origin;
}

const program = new Command()
  .name('crowdtrain-shard-server')
  .description(
    "Shard server: holds ranges of sharded runs' parameters and optimizer state for a coordinator (mode: sharded); computes no gradients.",
  )
  .addOption(new Option('--url <url>', 'coordinator URL').env('CROWDTRAIN_URL').default('http://127.0.0.1:3000').argParser(parseUrl))
  .addOption(new Option('--token <token>', 'worker join token printed by the coordinator').env('CROWDTRAIN_TOKEN'))
  .option('--name <name>', 'name shown by the coordinator', `${os.hostname()}-shard-${process.pid}`)
  .option('--quiet', 'no output about range loads and drops', false)
  .showHelpAfterError();

async function main(): Promise<void> {
  program.parse();
  const opts = program.opts<ShardServerCliOptions>();
  const token = opts.token;
  if (!token) {
    return program.error('error: --token is required (or set CROWDTRAIN_TOKEN); the coordinator prints it at start');
  }
  let owner: ShardOwner;
  try {
    owner = await startShardOwner({
      url: opts.url,
      token,
      name: opts.name,
      connect: io,
      onLog: (line) => {
        if (!opts.quiet) process.stdout.write(`${line}\n`);
      },
    });
  } catch (err) {
    const msg = err instanceof CrowdtrainError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
    process.stderr.write(`cannot connect to ${opts.url}: ${msg}\n`);
    process.exit(3);
  }
  process.stdout.write(`shard owner ${owner.ownerId} connected to ${opts.url}\n`);

  let stopping = false;
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    void owner.close().finally(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  const msg = err instanceof CrowdtrainError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
  process.stderr.write(`crowdtrain-shard-server: ${msg}\n`);
  process.exit(1);
});
