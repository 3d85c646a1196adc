/** The event log: append (details as JSON text) and read a run's events back (a part of TrackingStore). */
import type { TrackingPrismaClient } from '../db.ts';
import { mapRunError, requireText, toJson } from './query-guards.ts';

/** An event with its JSON detail parsed back. */
export interface EventRecord {
  id: number;
  runId: string | null;
  workerId: string | null;
  time: Date;
  kind: string;
  detail: unknown;
}

/** Arguments of {@link TrackingStore.recordEvent}. */
export interface RecordEventInput {
  runId?: string | null;
  workerId?: string | null;
  kind: string;
  detail?: unknown;
}

/** Options of {@link EventQueries.listEvents}. */
export interface ListEventsOptions {
  /** Only events of this kind. */
  kind?: string;
  /** Time order: oldest first (default) or newest first. */
  order?: 'asc' | 'desc';
  /** Events to pass over first (paging). */
  skip?: number;
  take?: number;
}

/** The event queries of {@link TrackingStore}. */
export class EventQueries {
  constructor(private readonly prisma: TrackingPrismaClient) {}

  /** Appends to the event log; `detail` is stored as JSON (Errors keep name, message and code). */
  async recordEvent(input: RecordEventInput): Promise<{ id: number }> {
    requireText('event kind', input.kind);
    try {
      return await this.prisma.event.create({
        data: {
          runId: input.runId ?? null,
          workerId: input.workerId ?? null,
          kind: input.kind,
          detail: input.detail === undefined ? null : toJson(`detail of event "${input.kind}"`, input.detail),
        },
        select: { id: true },
      });
    } catch (err) {
      throw mapRunError(err, input.runId ?? '(none)');
    }
  }

  /** The run's events in time order (oldest first unless `order: 'desc'`), optionally of one kind and paged, details parsed. */
  async listEvents(runId: string, opts: ListEventsOptions = {}): Promise<EventRecord[]> {
    const order = opts.order ?? 'asc';
    const rows = await this.prisma.event.findMany({
      where: { runId, ...(opts.kind === undefined ? {} : { kind: opts.kind }) },
      orderBy: [{ time: order }, { id: order }],
      ...(opts.skip === undefined ? {} : { skip: opts.skip }),
      ...(opts.take === undefined ? {} : { take: opts.take }),
    });
    return rows.map((r) => ({ ...r, detail: r.detail === null ? null : (JSON.parse(r.detail) as unknown) }));
  }
}
