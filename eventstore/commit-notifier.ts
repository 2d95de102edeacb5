// Wakes projection runners (LISTEN domain_events) after appends commit. A NOTIFY inside the
// append's transaction would make Postgres serialize every committing append behind its
// global notify lock, fsync included, which halves append throughput at concurrency 8. So the
// store notifies right after its own commit instead, from a transaction that writes nothing.
//
// It coalesces, because a NOTIFY costs a whole statement (a round trip, about as much Node and
// Postgres CPU as the one-event append it follows) and readers need one wake-up per burst, not
// per event: an append after a quiet spell notifies at once; appends within `intervalMs` of
// the last NOTIFY are covered by one more sent when the interval ends, and never more than
// one is in flight. Every append is thus followed, within `intervalMs`, by a NOTIFY sent after
// it committed; a process that dies in between is covered by the runners' polling fallback.
import { type Kysely, sql } from 'kysely';
import { poolOf } from './db';

export const NOTIFY_CHANNEL = 'domain_events';

/**
 * The longest an append's wake-up waits behind the previous NOTIFY. A few milliseconds keep
 * read models as fresh as one NOTIFY per append did (a reader's own catch-up takes longer),
 * while a hot process sends a few hundred per second at most instead of one per append.
 */
export const DEFAULT_NOTIFY_INTERVAL_MS = 5;

export interface CommitNotifier {
  /** Call after a commit; returns at once. */
  notify(): void;
  /** Sends what is pending now and resolves when no NOTIFY is pending (tests, shutdown). */
  flush(): Promise<void>;
}

const NOTIFY_SQL = `SELECT pg_notify('${NOTIFY_CHANNEL}', '')`;

/** The NOTIFY for a caller's transaction (delivered at its commit). */
export function notifySql() {
  return sql.raw(NOTIFY_SQL);
}

export function createCommitNotifier(
  db: Kysely<any>,
  intervalMs: number = DEFAULT_NOTIFY_INTERVAL_MS,
): CommitNotifier {
  // A named statement on the pool: parsed and planned once per connection, like the append.
  const pool = poolOf(db);
  const query = (): Promise<unknown> =>
    pool ? pool.query({ name: 'es_notify_v1', text: NOTIFY_SQL }) : notifySql().execute(db);

  let inFlight: Promise<void> | undefined;
  /** An append committed after the in-flight NOTIFY was sent. */
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let lastSentAt = -Infinity;

  const send = (): void => {
    timer = undefined;
    lastSentAt = performance.now();
    inFlight = query().then(
      () => settled(),
      // A lost notification only delays readers until their next poll.
      () => settled(),
    );
  };
  const settled = (): void => {
    inFlight = undefined;
    if (again) {
      again = false;
      schedule();
    }
  };
  const schedule = (): void => {
    if (timer || inFlight) return;
    const wait = lastSentAt + intervalMs - performance.now();
    if (wait <= 0) send();
    else timer = setTimeout(send, wait);
  };

  return {
    notify() {
      if (inFlight) again = true;
      else schedule();
    },
    async flush() {
      for (;;) {
        if (timer) {
          clearTimeout(timer);
          send();
        }
        if (!inFlight) return;
        await inFlight;
      }
    },
  };
}
