/** The wire protocol: a leaf of core (it imports nothing else from core). */
export * from './version.ts';
export * from './errors.ts';
export * from './gradient-compressions.ts';
export * from './messages.ts';
