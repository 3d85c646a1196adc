import createDebug from 'debug';

const debug = createDebug('crowdtrain:fleet');

/** Window in which repeated Events of one kind from one worker are coalesced into one row. */
export const EVENT_COALESCE_WINDOW_MS = 5_000;

/** One Event to write (the shape of TrackingStore.recordEvent's input). */
export interface CoalescedEvent {
  runId?: string | null;
  workerId: string;
  kind: string;
  detail?: Record<string, unknown>;
}

/**
 * Coalesces repeated Events: the first Event of a (worker, kind, run) is written at once; further
 * ones within {@link EVENT_COALESCE_WINDOW_MS} are counted, and when the window closes one more row
 * is written with the last detail and `count` (how many it stands for) and `coalesced: true`. So a
 * worker can add at most two rows per kind per window, however fast it sends.
 * @example const c = new EventCoalescer((e) => store.recordEvent(e)); await c.record({ workerId, kind: 'step_declined', detail });
 */
export class EventCoalescer {
  private readonly open = new Map<string, { event: CoalescedEvent; count: number; timer: ReturnType<typeof setTimeout> }>();

  constructor(
    private readonly write: (e: CoalescedEvent) => Promise<unknown>,
    private readonly windowMs = EVENT_COALESCE_WINDOW_MS,
  ) {}

  /** Records one Event: written now if it opens a window, else counted into the window's summary row. */
  async record(e: CoalescedEvent): Promise<void> {
    const key = `${e.runId ?? ''}\u0000${e.workerId}\u0000${e.kind}`;
    const cur = this.open.get(key);
    if (cur) {
      cur.count += 1;
      cur.event = e;
      return;
    }
    const timer = setTimeout(() => void this.close(key), this.windowMs);
    timer.unref();
    this.open.set(key, { event: e, count: 0, timer });
    await this.write(e);
  }

  /** Writes the summary rows of every open window now (at shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.open.keys()].map((k) => this.close(k)));
  }

  private async close(key: string): Promise<void> {
    const cur = this.open.get(key);
    if (!cur) return;
    clearTimeout(cur.timer);
    this.open.delete(key);
    if (cur.count === 0) return;
    try {
      await this.write({ ...cur.event, detail: { ...cur.event.detail, count: cur.count, coalesced: true } });
    } catch (err) {
      debug('could not write coalesced %s event: %O', cur.event.kind, err);
    }
  }
}
