import { z } from 'zod';
import { ErrorCode } from '../protocol/errors.ts';

/** A wire error code (core/protocol/errors.ts) as it appears in an error body. */
export const ApiErrorCodeSchema = z.enum(ErrorCode);

/**
 * The body of every failed API request: `{ error: { code, message } }`, the message naming the bad value.
 * @example ApiErrorSchema.parse({ error: { code: 'RUN_NOT_FOUND', message: 'no run with id r1' } })
 */
export const ApiErrorSchema = z.object({ error: z.object({ code: ApiErrorCodeSchema, message: z.string() }) });
/** A parsed error body. */
export type ApiError = z.infer<typeof ApiErrorSchema>;
