// Rebuilds one projection from position 0 into shadow tables, then swaps them in within one
// short transaction, so readers see the old read model until the new one is complete. Events
// keep arriving meanwhile: the swap catches up the last ones under lock and hands the live
// runner a checkpoint that matches the new tables exactly.
import pg from 'pg';
import type { Checkpoint, EventStore, RecordedEvent } from '../eventstore';
import { logRelation, START } from '../eventstore';
import { projectionReadAll } from './log-reader';
import { type Projection, ProjectionApplyError, quoteIdent } from './projection';
import { insertDeadLetter, type SetAside } from './dead-letters';
import { connectionOptions, handledEvents, isEventFault, isFoldFault } from './runner';

export interface RebuildOptions {
  databaseUrl: string;
  /** Reads the log (decoding only the events the projection handles). */
  store: Pick<EventStore, 'readAllFrom' | 'assertNotRestored'>;
  projection: Projection;
  batchSize?: number;
  /** Called after each batch: events read so far, and the size of the log when we started. */
  onProgress?: (done: number, total: number) => void;
  /** Attempts at an event whose fold throws before the rebuild skips it (default 3). */
  deadLetterAfter?: number;
}

export interface RebuildResult {
  events: number;
  applied: number;
  checkpoint: Checkpoint;
  ms: number;
  /**
   * Events the rebuild could not fold and skipped. They replace the projection's parked dead
   * letters when the rebuild is swapped in (the rebuild replayed the old ones too).
   */
  skipped: SetAside[];
}

/** An event the projection cannot decode or apply: nothing was swapped in. */
export class RebuildFailedError extends Error {
  readonly code = 'REBUILD_FAILED';
  constructor(
    readonly projection: string,
    readonly event: RecordedEvent | undefined,
    reason: string,
  ) {
    super(
      `rebuild of ${projection} stopped${event ? ` at event ${event.globalPosition} (${event.type} ${event.streamType}-${event.streamId} v${event.version})` : ''}: ${reason}; the live read model is unchanged`,
    );
    this.name = 'RebuildFailedError';
  }
}

export class RebuildRunningError extends Error {
  readonly code = 'REBUILD_RUNNING';
  constructor(name: string) {
    super(`a rebuild of ${name} is already running`);
    this.name = 'RebuildRunningError';
  }
}

const SHADOW_SUFFIX = '__rebuild';
const shadowName = (table: string) => `${table}${SHADOW_SUFFIX}`;
const qualified = (table: string) => `read_models.${quoteIdent(table)}`;

export async function rebuildProjection(options: RebuildOptions): Promise<RebuildResult> {
  const { projection } = options;
  const started = Date.now();
  const batchSize = options.batchSize ?? 10_000;
  await options.store.assertNotRestored();
  const client = new pg.Client(
    connectionOptions(options.databaseUrl, `projection-rebuild:${projection.name}`),
  );
  await client.connect();
  try {
    const { rows: lock } = await client.query<{ locked: boolean }>(
      `SELECT pg_try_advisory_lock(hashtext('order-saga:rebuild'), hashtext($1)) AS locked`,
      [projection.name],
    );
    if (!lock[0]?.locked) throw new RebuildRunningError(projection.name);

    for (const table of projection.tables) {
      await client.query(`DROP TABLE IF EXISTS ${qualified(shadowName(table))}`);
      await client.query(
        `CREATE TABLE ${qualified(shadowName(table))} (LIKE ${qualified(table)} INCLUDING ALL)`,
      );
    }
    const { rows: size } = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${logRelation('e', ['event_id'])}`,
    );
    const total = Number(size[0]?.n ?? 0);
    const readAll = projectionReadAll(options.store, projection.handles);
    const shadow = { client, table: (name: string) => qualified(shadowName(name)) };

    let checkpoint: Checkpoint = START;
    let events = 0;
    let applied = 0;
    let lastEventAt: Date | null = null;
    const skipped: SetAside[] = [];
    const limit = options.deadLetterAfter ?? 3;
    /** Folds the events of a batch one at a time; those that keep throwing are skipped. */
    const oneByOne = async (handled: readonly RecordedEvent[]): Promise<RecordedEvent[]> => {
      const folded: RecordedEvent[] = [];
      for (const event of handled) {
        for (let attempt = 1; ; attempt++) {
          await client.query('SAVEPOINT rebuild_event');
          try {
            await projection.apply(shadow, [event]);
            await client.query('RELEASE SAVEPOINT rebuild_event');
            folded.push(event);
            break;
          } catch (err) {
            await client.query('ROLLBACK TO SAVEPOINT rebuild_event');
            if (isEventFault(err) || !(await isFoldFault(client, err))) throw err;
            if (attempt >= limit) {
              const message = err instanceof Error ? err.message : String(err);
              skipped.push({
                event,
                attempts: attempt,
                error: `event ${event.globalPosition} (${event.type} ${event.streamType}-${event.streamId} v${event.version}): ${message}`,
              });
              break;
            }
          }
        }
      }
      return folded;
    };
    /** Applies everything visible after `checkpoint` to the shadow tables. */
    const catchUp = async (inTransaction: boolean) => {
      for (;;) {
        const batch = await readAll(checkpoint, batchSize);
        if (batch.events.length === 0) return;
        if (!inTransaction) await client.query('BEGIN');
        let handled: RecordedEvent[];
        try {
          handled = handledEvents(projection, batch.events);
          if (handled.length > 0) {
            await client.query('SAVEPOINT rebuild_batch');
            try {
              await projection.apply(shadow, handled);
            } catch (err) {
              await client.query('ROLLBACK TO SAVEPOINT rebuild_batch');
              if (isEventFault(err) || !(await isFoldFault(client, err))) throw err;
              handled = await oneByOne(handled);
            }
            await client.query('RELEASE SAVEPOINT rebuild_batch');
          }
        } catch (err) {
          if (!isEventFault(err)) throw err;
          const reason = err instanceof Error ? err.message : String(err);
          throw new RebuildFailedError(
            projection.name,
            err instanceof ProjectionApplyError ? err.event : undefined,
            reason,
          );
        }
        if (!inTransaction) await client.query('COMMIT');
        checkpoint = batch.checkpoint;
        lastEventAt = batch.events[batch.events.length - 1]!.createdAt;
        events += batch.events.length;
        applied += handled.length;
        options.onProgress?.(events, Math.max(total, events));
      }
    };
    try {
      await catchUp(false);

      // The swap: lock the checkpoint row first, then the tables (the runner's order), apply
      // what arrived during the rebuild, and replace the tables and the checkpoint together.
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`,
        [projection.name],
      );
      await client.query(`SELECT 1 FROM projection_checkpoints WHERE name = $1 FOR UPDATE`, [
        projection.name,
      ]);
      await client.query(
        `LOCK TABLE ${projection.tables.map(qualified).join(', ')} IN ACCESS EXCLUSIVE MODE`,
      );
      await catchUp(true);
      for (const table of projection.tables) {
        await client.query(`DROP TABLE ${qualified(table)}`);
        await client.query(
          `ALTER TABLE ${qualified(shadowName(table))} RENAME TO ${quoteIdent(table)}`,
        );
        // Index names follow the table's, so the next rebuild's shadow names are free again.
        const { rows: indexes } = await client.query<{ indexname: string }>(
          `SELECT indexname FROM pg_indexes WHERE schemaname = 'read_models' AND tablename = $1`,
          [table],
        );
        for (const { indexname } of indexes) {
          if (!indexname.startsWith(shadowName(table))) continue;
          const renamed = table + indexname.slice(shadowName(table).length);
          await client.query(
            `ALTER INDEX read_models.${quoteIdent(indexname)} RENAME TO ${quoteIdent(renamed)}`,
          );
        }
      }
      await client.query(
        `DELETE FROM projection_dead_letters WHERE projection = $1 AND status = 'parked'`,
        [projection.name],
      );
      for (const aside of skipped) await insertDeadLetter(client, projection.name, aside);
      await client.query(
        `UPDATE projection_checkpoints
         SET transaction_id = $2::xid8, global_position = $3, events_processed = $4,
             status = 'running', last_error = NULL, last_event_at = $5, updated_at = now()
         WHERE name = $1`,
        [
          projection.name,
          checkpoint.transactionId,
          checkpoint.globalPosition,
          applied,
          lastEventAt,
        ],
      );
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    return { events, applied, checkpoint, ms: Date.now() - started, skipped };
  } finally {
    await client.end().catch(() => undefined);
  }
}
