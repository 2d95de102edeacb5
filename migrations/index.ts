// Runs every migration with Kysely's Migrator. The list is explicit (not a folder scan) so it
// works the same under tsx, Jest and a compiled build.
import { type Kysely, type Migration, type MigrationProvider, Migrator } from 'kysely';
import { assertTransactionIdsBehindServer } from '../eventstore/restore-check';
import * as m0001 from './0001_event_store';
import * as m0002 from './0002_read_models';
import * as m0003 from './0003_event_store_codecs_retention';
import * as m0004 from './0004_log_archive_reads';
import * as m0005 from './0005_log_retention_tombstones';
import * as m0006 from './0006_log_rebase';
import * as m0007 from './0007_projection_dead_letters';
import * as m0008 from './0008_encryption_keys';

const migrations: Record<string, Migration> = {
  '0001_event_store': m0001,
  '0002_read_models': m0002,
  '0003_event_store_codecs_retention': m0003,
  '0004_log_archive_reads': m0004,
  '0005_log_retention_tombstones': m0005,
  '0006_log_rebase': m0006,
  '0007_projection_dead_letters': m0007,
  '0008_encryption_keys': m0008,
};

const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations) };

/** Refuses a database restored from a logical dump (eventstore/restore-check.ts) first. */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  await assertTransactionIdsBehindServer(db);
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(
      `Migration ${failed} failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`,
    );
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
