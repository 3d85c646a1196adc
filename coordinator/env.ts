import path from 'node:path';
import { z } from 'zod';
import { describeZodError } from '../core/protocol/messages.ts';
import { AdminTokenEnvSchema } from './http/admin-auth.ts';

/** Environment variables the coordinator reads, validated. */
export const CoordinatorEnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535).optional(),
  HOST: z.string().min(1).optional(),
  DATABASE_URL: z.string().min(1).optional(),
  CROWDTRAIN_DATA_DIR: z.string().min(1).optional(),
  CROWDTRAIN_TOKEN: z.string().min(16, 'CROWDTRAIN_TOKEN must be at least 16 characters').optional(),
  CROWDTRAIN_ADMIN_TOKEN: AdminTokenEnvSchema.optional(),
});

/** Validated environment. */
export type CoordinatorEnv = z.infer<typeof CoordinatorEnvSchema>;

/** Reads and validates the environment; throws an Error naming each bad variable. */
export function readCoordinatorEnv(env: Record<string, string | undefined> = process.env): CoordinatorEnv {
  const picked = Object.fromEntries(
    Object.keys(CoordinatorEnvSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  const r = CoordinatorEnvSchema.safeParse(picked);
  if (!r.success) throw new Error(`invalid environment: ${describeZodError(r.error)}`);
  return r.data;
}

/** Default data directory: ./data under the current working directory. */
export function defaultDataDir(): string {
  return path.resolve('data');
}
