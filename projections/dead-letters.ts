// The dead-letter of the projections: an event a projection failed to fold N times in a row is
// set aside here, in the transaction that moves the projection's checkpoint past it, so one
// poison event no longer holds a read model back for everyone. An operator lists them, retries
// one (after a fix) or skips it for good: `npm run projections -- dead-letters|retry|skip`.
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import type { Checkpoint, EventStore, RecordedEvent } from '../eventstore';
import { liveTables, type Projection } from './projection';
import type { ProjectionDb } from './schema';

export type DeadLetterStatus = 'parked' | 'retried' | 'skipped';

export interface DeadLetter {
  id: number;
  projection: string;
  globalPosition: number;
  eventId: string;
  eventType: string;
  stream: string;
  version: number;
  attempts: number;
  error: string;
  status: DeadLetterStatus;
  createdAt: string;
  resolvedAt: string | null;
}

export class DeadLetterNotFoundError extends Error {
  readonly code = 'DEAD_LETTER_NOT_FOUND';
  constructor(id: number) {
    super(`no parked dead letter with id ${id}`);
    this.name = 'DeadLetterNotFoundError';
  }
}

/** The retried event failed again: it stays parked, with this error on record. */
export class DeadLetterRetryError extends Error {
  readonly code = 'DEAD_LETTER_RETRY_FAILED';
  constructor(id: number, reason: string) {
    super(`dead letter ${id} failed again: ${reason}`);
    this.name = 'DeadLetterRetryError';
  }
}

/** What a rebuild skipped, or a runner set aside. */
export interface SetAside {
  event: RecordedEvent;
  attempts: number;
  error: string;
}

const INSERT_SQL = `
  INSERT INTO projection_dead_letters (projection, global_position, transaction_id, event_id,
    event_type, aggregate_type, aggregate_id, version, attempts, error)
  VALUES ($1, $2, $3::xid8, $4, $5, $6, $7, $8, $9, $10)
  ON CONFLICT (projection, event_id) DO UPDATE
    SET attempts = EXCLUDED.attempts, error = EXCLUDED.error, status = 'parked',
        created_at = now(), resolved_at = NULL`;

/** Records one set-aside event on `client` (inside the caller's transaction). */
export async function insertDeadLetter(
  client: pg.ClientBase,
  projection: string,
  aside: SetAside,
): Promise<void> {
  const e = aside.event;
  await client.query(INSERT_SQL, [
    projection,
    e.globalPosition,
    e.transactionId,
    e.eventId,
    e.type,
    e.streamType,
    e.streamId,
    e.version,
    aside.attempts,
    aside.error,
  ]);
}

/**
 * Sets `aside.event` aside and moves the checkpoint from `from` past it, in one transaction
 * (compare-and-set, like a batch): false when the checkpoint moved under us.
 */
export async function setAsideAndMove(
  client: pg.ClientBase,
  projection: string,
  from: Checkpoint,
  aside: SetAside,
): Promise<boolean> {
  await client.query('BEGIN');
  try {
    const moved = await client.query(
      `UPDATE projection_checkpoints
       SET transaction_id = $2::xid8, global_position = $3, last_error = NULL, updated_at = now()
       WHERE name = $1 AND status = 'running' AND transaction_id = $4::xid8
         AND global_position = $5`,
      [
        projection,
        aside.event.transactionId,
        aside.event.globalPosition,
        from.transactionId,
        from.globalPosition,
      ],
    );
    if (moved.rowCount !== 1) {
      await client.query('ROLLBACK');
      return false;
    }
    await insertDeadLetter(client, projection, aside);
    await client.query('COMMIT');
    return true;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

interface Row {
  id: string;
  projection: string;
  global_position: string;
  event_id: string;
  event_type: string;
  aggregate_type: string;
  aggregate_id: string;
  version: number;
  attempts: number;
  error: string;
  status: DeadLetterStatus;
  created_at: Date;
  resolved_at: Date | null;
}

const toDeadLetter = (r: Row): DeadLetter => ({
  id: Number(r.id),
  projection: r.projection,
  globalPosition: Number(r.global_position),
  eventId: r.event_id,
  eventType: r.event_type,
  stream: `${r.aggregate_type}-${r.aggregate_id}`,
  version: r.version,
  attempts: r.attempts,
  error: r.error,
  status: r.status,
  createdAt: r.created_at.toISOString(),
  resolvedAt: r.resolved_at?.toISOString() ?? null,
});

/** Dead letters, oldest first: the parked ones only unless `all`. */
export async function listDeadLetters(
  db: Kysely<ProjectionDb>,
  options: { all?: boolean; limit?: number } = {},
): Promise<DeadLetter[]> {
  const { rows } = await sql<Row>`
    SELECT * FROM projection_dead_letters
    WHERE ${options.all ? sql`true` : sql`status = 'parked'`}
    ORDER BY id LIMIT ${options.limit ?? 1000}`.execute(db);
  return rows.map(toDeadLetter);
}

/** Marks a parked dead letter skipped for good (the read model stays without it). */
export async function skipDeadLetter(db: Kysely<ProjectionDb>, id: number): Promise<DeadLetter> {
  const { rows } = await sql<Row>`
    UPDATE projection_dead_letters SET status = 'skipped', resolved_at = now()
    WHERE id = ${id} AND status = 'parked' RETURNING *`.execute(db);
  if (!rows[0]) throw new DeadLetterNotFoundError(id);
  return toDeadLetter(rows[0]);
}

/**
 * Folds a parked event into its projection's live read model now, out of log order (the
 * projection has moved on), and marks it retried, in one transaction. Meant for after a fix of
 * the fold; when order matters to the projection, a rebuild replays everything in order
 * instead. A failure leaves it parked with the new error (DeadLetterRetryError).
 */
export async function retryDeadLetter(options: {
  databaseUrl: string;
  store: Pick<EventStore, 'readStream'>;
  projections: readonly Projection[];
  id: number;
}): Promise<DeadLetter> {
  const client = new pg.Client({ connectionString: options.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<Row>(
      `SELECT * FROM projection_dead_letters WHERE id = $1 AND status = 'parked'`,
      [options.id],
    );
    const row = rows[0];
    if (!row) throw new DeadLetterNotFoundError(options.id);
    const projection = options.projections.find((p) => p.name === row.projection);
    if (!projection) throw new Error(`dead letter ${row.id}: unknown projection ${row.projection}`);
    const events = await options.store.readStream(
      { type: row.aggregate_type, id: row.aggregate_id },
      row.version,
    );
    const event = events.find((e) => e.eventId === row.event_id);
    if (!event)
      throw new Error(`dead letter ${row.id}: event ${row.event_id} is no longer in the log`);
    await client.query('BEGIN');
    try {
      await projection.apply({ client, table: liveTables() }, [event]);
      const { rows: done } = await client.query<Row>(
        `UPDATE projection_dead_letters SET status = 'retried', resolved_at = now()
         WHERE id = $1 AND status = 'parked' RETURNING *`,
        [options.id],
      );
      if (!done[0]) throw new DeadLetterNotFoundError(options.id);
      await client.query('COMMIT');
      return toDeadLetter(done[0]);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (err instanceof DeadLetterNotFoundError) throw err;
      const reason = err instanceof Error ? err.message : String(err);
      await client.query(
        `UPDATE projection_dead_letters SET attempts = attempts + 1, error = $2 WHERE id = $1`,
        [options.id, reason],
      );
      throw new DeadLetterRetryError(options.id, reason);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}
