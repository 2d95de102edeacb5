// What a projection is: a name (its checkpoint), the read-model tables it owns, and how one
// event changes them, inside the transaction that also moves its checkpoint.
import type { Kysely } from 'kysely';
import type { RecordedEvent } from '../eventstore';
import type { ReadModelTables } from './schema';

export interface Projection {
  name: string;
  /** read_models tables this projection owns (a rebuild truncates them). */
  tables: readonly (keyof ReadModelTables & `read_models.${string}`)[];
  /** Event types it reacts to; other events only move its checkpoint. */
  handles: ReadonlySet<string>;
  apply(trx: Kysely<ReadModelTables>, event: RecordedEvent): Promise<void>;
}
