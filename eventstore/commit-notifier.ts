// Wakes projection runners (LISTEN domain_events) after appends commit. A NOTIFY inside the
// append's transaction would make Postgres serialize every committing append behind its
// global notify lock, fsync included, which halves append throughput at concurrency 8. So the
// store notifies right after its own commit instead, from a transaction that writes nothing,
// and coalesces: while one NOTIFY is in flight, any number of further appends are covered by
// one more. Every append is thus followed by a NOTIFY sent after it committed; a process that
// dies in between is covered by the runners' polling fallback.
import { type Kysely, sql } from 'kysely';
import { poolOf } from './db';

export const NOTIFY_CHANNEL = 'domain_events';

export interface CommitNotifier {
  /** Call after a commit; returns at once. */
  notify(): void;
  /** Resolves when no NOTIFY is pending (tests, shutdown). */
  flush(): Promise<void>;
}

const NOTIFY_SQL = `SELECT pg_notify('${NOTIFY_CHANNEL}', '')`;

/** The NOTIFY for a caller's transaction (delivered at its commit). */
export function notifySql() {
  return sql.raw(NOTIFY_SQL);
}

export function createCommitNotifier(db: Kysely<any>): CommitNotifier {
  let inFlight: Promise<void> | undefined;
  let again = false;
  // A named statement on the pool: parsed and planned once per connection, like the append.
  const pool = poolOf(db);
  const query = (): Promise<unknown> =>
    pool ? pool.query({ name: 'es_notify_v1', text: NOTIFY_SQL }) : notifySql().execute(db);

  const send = (): Promise<void> =>
    query()
      .then(
        () => undefined,
        // A lost notification only delays readers until their next poll.
        () => undefined,
      )
      .then(() => {
        if (!again) {
          inFlight = undefined;
          return undefined;
        }
        again = false;
        inFlight = send();
        return inFlight;
      });

  return {
    notify() {
      if (inFlight) again = true;
      else inFlight = send();
    },
    async flush() {
      while (inFlight) await inFlight;
    },
  };
}
