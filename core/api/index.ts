/**
 * The REST API's response bodies as zod schemas, shared by the coordinator (which types what it
 * sends against them) and the dashboard (which parses what it receives with them). Framework-free:
 * zod and core/protocol only.
 */
export * from './api-error.ts';
export * from './checkpoints.ts';
export * from './datasets.ts';
export * from './feature-importance.ts';
export * from './fleet.ts';
export * from './registry.ts';
export * from './runs.ts';
export * from './status.ts';
export * from './stream.ts';
