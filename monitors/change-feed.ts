// Tells in-process listeners that the event log has moved: one LISTEN domain_events connection
// (the channel the event store NOTIFYs after each commit, the one the projection runner wakes
// on), reconnecting when it drops. NOTIFY is delivered by the primary only: point it at
// DATABASE_URL, not at a read replica.
import pg from 'pg';
import { NOTIFY_CHANNEL } from '../eventstore/commit-notifier';
import { connectionOptions } from '../projections/runner';

export interface ChangeFeed {
  /** Calls `listener` after each notification (and once after each (re)connection). */
  subscribe(listener: () => void): () => void;
  close(): Promise<void>;
}

export function createChangeFeed(
  databaseUrl: string,
  options: { reconnectMs?: number; onLost?: () => void } = {},
): ChangeFeed {
  const listeners = new Set<() => void>();
  let closed = false;
  let client: pg.Client | undefined;
  let wakeSleep: (() => void) | undefined;
  const emit = () => {
    for (const listener of listeners) listener();
  };

  const loop = (async () => {
    while (!closed) {
      const c = new pg.Client(connectionOptions(databaseUrl, 'ops-change-feed'));
      client = c;
      const lost = new Promise<void>((resolve) => {
        c.on('error', () => resolve());
        c.on('end', () => resolve());
      });
      c.on('notification', emit);
      try {
        await c.connect();
        await c.query(`LISTEN ${NOTIFY_CHANNEL}`);
        // Changes may have happened while we were not listening.
        emit();
        await lost;
      } catch {
        // retried below
      }
      await c.end().catch(() => undefined);
      if (!closed) {
        options.onLost?.();
        await new Promise<void>((resolve) => {
          wakeSleep = resolve;
          setTimeout(resolve, options.reconnectMs ?? 1000).unref();
        });
      }
    }
  })();

  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      closed = true;
      wakeSleep?.();
      await client?.end().catch(() => undefined);
      await loop;
      listeners.clear();
    },
  };
}
