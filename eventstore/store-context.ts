// What every event-store operation runs with: the database, the payload codec, the upcasters
// and who to tell after a commit. Its own module, so that appends, reads, snapshots and
// retention all depend on it and none of them on another.
import type { Kysely } from 'kysely';
import type { Pool } from 'pg';
import type { PayloadCodec } from './codec';
import type { CommitNotifier } from './commit-notifier';
import type { EventStoreTables } from './schema';
import type { StreamName } from './types';
import type { UpcasterRegistry } from './upcasters';

export interface StoreContext {
  db: Kysely<EventStoreTables>;
  /** The pool behind `db` for the hot statements (run-statement.ts); absent in a transaction. */
  pool?: Pool;
  codec: PayloadCodec;
  upcasters: UpcasterRegistry;
  /** Wakes LISTEN domain_events readers after a commit (absent: nobody is told). */
  notifier?: CommitNotifier;
  /** Called after an append that wrote events (not after an idempotent replay). */
  onAppended?: (stream: StreamName, events: readonly { type: string }[]) => void;
}
