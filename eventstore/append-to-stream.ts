// Appends events to one stream in a single statement (one round trip, its own transaction):
// the expected-version check and the insert happen together, and the unique
// (aggregate_type, aggregate_id, version) key turns a lost race into a ConcurrencyError.
import { randomUUID } from 'node:crypto';
import { CompiledQuery, type Kysely, type Selectable, sql } from 'kysely';
import { DatabaseError } from 'pg';
import { canonicalJson } from './canonical-json';
import { notifySql } from './commit-notifier';
import { eventAad } from './codec';
import { toSafeNumber } from './db';
import {
  ConcurrencyError,
  EventIdConflictError,
  InvalidAppendError,
  StreamTombstonedError,
  TransactionOrderError,
} from './errors';
import { logRelation } from './log-sql';
import { rowAad, storedPayload } from './recorded-event';
import { streamTombstoned } from './tombstones';
import { runStatement } from './run-statement';
import type { AppendOptions } from './event-store';
import type { DomainEventsTable, EventStoreTables } from './schema';
import type { AppendResult, ExpectedVersion, NewEvent, StreamName } from './types';
import type { StoreContext } from './store-context';

const STREAM_VERSION_KEY = 'domain_events_stream_version_key';
// Each lost race means another append to the stream committed; the bound only guards a bug.
const MAX_ANY_ATTEMPTS = 1000;

/**
 * The stream's last event, live or archived ($1 type, $2 id): archived streams keep their
 * versions, so an id reused after retention is seen, not started again at version 1.
 */
const STREAM_HEAD_SQL = `
  head AS (
    SELECT coalesce(l.version, 0) AS v, l.global_position AS p, l.transaction_id AS tx
    FROM (SELECT 1) one LEFT JOIN LATERAL (
      SELECT version, global_position, transaction_id FROM (
        (SELECT version, global_position, transaction_id FROM domain_events
         WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY version DESC LIMIT 1)
        UNION ALL
        (SELECT version, global_position, transaction_id FROM domain_events_archive
         WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY version DESC LIMIT 1)
      ) both_tables ORDER BY version DESC LIMIT 1
    ) l ON true
  )`;

/**
 * The whole append as one statement: the expected-version check ($3, $4, and $7 the global
 * position of the last event the caller saw, when it knows it), the transaction-order check,
 * the archive's event ids ($8), and the insert of every event ($5 payload bytes, $6 the rows as
 * a JSON array) in stream order. One text for every case, so it is prepared once per connection.
 * The order check: inside a caller's transaction that already holds an xid, the stream's last
 * event must not come from a younger transaction (the log orders by transaction id).
 */
const APPEND_SQL = `
  WITH ${STREAM_HEAD_SQL}
  INSERT INTO domain_events
    (event_id, aggregate_type, aggregate_id, version, event_type, schema_version,
     event_data, event_data_bytes, codec, key_id, metadata)
  SELECT (e.value->>'event_id')::uuid, $1, $2, head.v + e.ord,
         e.value->>'event_type', (e.value->>'schema_version')::int,
         CASE WHEN e.value->'event_data' = 'null'::jsonb THEN NULL ELSE e.value->'event_data' END,
         ($5::bytea[])[e.ord], e.value->>'codec', e.value->>'key_id', e.value->'metadata'
  FROM head, jsonb_array_elements($6::jsonb) WITH ORDINALITY AS e(value, ord)
  WHERE CASE $3::text
          WHEN 'any' THEN true
          WHEN 'no_stream' THEN head.v = 0
          WHEN 'stream_exists' THEN head.v > 0
          ELSE head.v = $4::int AND ($7::bigint IS NULL OR head.p = $7::bigint)
        END
    AND (head.tx IS NULL OR pg_current_xact_id_if_assigned() IS NULL
         OR head.tx <= pg_current_xact_id_if_assigned())
    AND NOT EXISTS (SELECT 1 FROM domain_events_archive a WHERE a.event_id = ANY($8::uuid[]))
    AND NOT EXISTS (SELECT 1 FROM stream_tombstones t
                    WHERE t.aggregate_type = $1 AND t.aggregate_id = $2)
  ORDER BY e.ord
  RETURNING global_position, version`;

/** Why an append wrote nothing: the stream's head as this transaction sees it. */
const HEAD_SQL = `
  WITH ${STREAM_HEAD_SQL}
  SELECT v, p, coalesce(head.tx > pg_current_xact_id_if_assigned(), false) AS newer FROM head`;

interface AppendedRow {
  global_position: string;
  version: number;
}

const runAppend = (ctx: StoreContext, values: unknown[]): Promise<AppendedRow[]> =>
  runStatement<AppendedRow>(ctx, APPEND_SQL, values, 'es_append_v3');

interface StreamHead {
  version: number;
  /** Global position of the last event (undefined: no event). */
  position: number | undefined;
  /** The last event was written by a transaction younger than the caller's. */
  newer: boolean;
}

async function streamHead(db: Kysely<EventStoreTables>, stream: StreamName): Promise<StreamHead> {
  const { rows } = await db.executeQuery<{ v: number; p: string | null; newer: boolean }>(
    CompiledQuery.raw(HEAD_SQL, [stream.type, stream.id]),
  );
  const row = rows[0]!;
  return {
    version: row.v,
    position: row.p === null ? undefined : toSafeNumber(row.p, 'global_position'),
    newer: row.newer,
  };
}

function expectationHolds(
  expected: ExpectedVersion,
  head: StreamHead,
  expectedLastPosition: number | undefined,
): boolean {
  if (expected === 'any') return true;
  if (expected === 'no_stream') return head.version === 0;
  if (expected === 'stream_exists') return head.version > 0;
  return (
    head.version === expected &&
    (expectedLastPosition === undefined || head.position === expectedLastPosition)
  );
}

function concurrencyError(
  stream: StreamName,
  expected: ExpectedVersion,
  head: StreamHead,
): ConcurrencyError {
  // Same version, other events: the stream was deleted by retention and written again.
  return typeof expected === 'number' && head.version === expected
    ? new ConcurrencyError(stream, expected, head.version, 'the stream was written again since')
    : new ConcurrencyError(stream, expected, head.version);
}

export async function appendToStream(
  ctx: StoreContext,
  stream: StreamName,
  expected: ExpectedVersion,
  events: readonly NewEvent[],
  options: AppendOptions = {},
): Promise<AppendResult> {
  if (typeof expected === 'number' && (!Number.isSafeInteger(expected) || expected < 0)) {
    throw new RangeError(`expected version must be a non-negative integer, got ${expected}`);
  }
  if (events.length === 0) {
    // Nothing to write, but the caller still learns whether its expectation holds.
    const head = await streamHead(ctx.db, stream);
    if (!expectationHolds(expected, head, options.expectedLastPosition))
      throw concurrencyError(stream, expected, head);
    return { nextExpectedVersion: head.version, positions: [] };
  }

  // Most appends carry one event: no set is needed to find a repeated id.
  const seen = events.length > 1 ? new Set<string>() : undefined;
  const prepared = events.map((event, index) => {
    // Postgres prints uuids in lower case; ids are compared (and bound as AAD) in that form.
    const eventId = event.eventId?.toLowerCase() ?? randomUUID();
    if (seen?.has(eventId))
      throw new InvalidAppendError(stream, `event id ${eventId} appears twice in one append`);
    seen?.add(eventId);
    // The payload column takes a JSON value; "no payload" would break its check constraint.
    if (event.data === null || event.data === undefined)
      throw new InvalidAppendError(
        stream,
        `event ${index} (${event.type}) has no data: pass an object (e.g. {})`,
      );
    const encoded = ctx.codec.encode(
      event.data,
      eventAad({ streamType: stream.type, streamId: stream.id, eventType: event.type, eventId }),
    );
    return {
      eventId,
      type: event.type,
      data: event.data,
      bytes: encoded.bytes,
      row: {
        event_id: eventId,
        event_type: event.type,
        schema_version: event.schemaVersion ?? ctx.upcasters.latestVersion(event.type),
        event_data: encoded.bytes ? null : encoded.json,
        codec: encoded.codec,
        key_id: encoded.keyId,
        metadata: { ...options.metadata, ...event.metadata },
      },
    };
  });
  const values = [
    stream.type,
    stream.id,
    typeof expected === 'number' ? 'version' : expected,
    typeof expected === 'number' ? expected : 0,
    prepared.map((p) => p.bytes),
    JSON.stringify(prepared.map((p) => p.row)),
    options.expectedLastPosition ?? null,
    prepared.map((p) => p.eventId),
  ];
  // Inside a caller's transaction a failed statement would abort it: a savepoint keeps the
  // conflict recoverable there. On its own the statement is its own transaction (one round trip).
  const inTransaction = ctx.db.isTransaction;
  for (let attempt = 1; ; attempt++) {
    try {
      if (inTransaction) await sql`SAVEPOINT append_to_stream`.execute(ctx.db);
      const rows = await runAppend(ctx, values);
      if (inTransaction) await sql`RELEASE SAVEPOINT append_to_stream`.execute(ctx.db);
      if (rows.length === prepared.length) {
        // In a caller's transaction the NOTIFY joins it and is delivered at its commit.
        if (inTransaction) await notifySql().execute(ctx.db);
        else ctx.notifier?.notify();
        ctx.onAppended?.(stream, events);
        return {
          nextExpectedVersion: rows[rows.length - 1]!.version,
          positions: rows.map((r, i) => ({
            eventId: prepared[i]!.eventId,
            version: r.version,
            globalPosition: toSafeNumber(r.global_position, 'global_position'),
          })),
        };
      }
      break;
    } catch (err) {
      if (!(err instanceof DatabaseError && err.code === '23505')) throw err;
      if (inTransaction) await sql`ROLLBACK TO SAVEPOINT append_to_stream`.execute(ctx.db);
      // Two appends with 'any' to one stream can pick the same next version; the loser simply
      // goes again on top of the winner. Any other unique violation is either a lost race on
      // an expected version or the retry of committed event ids.
      // Inside a caller's transaction the caller retries instead: its transaction id may be
      // older than the winner's, and the global log orders by transaction id.
      if (
        expected === 'any' &&
        !inTransaction &&
        err.constraint === STREAM_VERSION_KEY &&
        attempt < MAX_ANY_ATTEMPTS
      )
        continue;
      break;
    }
  }

  const original = await findCommitted(ctx, stream, prepared);
  if (original) return original;
  const tombstone = await streamTombstoned(ctx.db, stream);
  if (tombstone) throw new StreamTombstonedError(stream, tombstone.archived);
  const head = await streamHead(ctx.db, stream);
  if (head.newer && expectationHolds(expected, head, options.expectedLastPosition))
    throw new TransactionOrderError(stream);
  throw concurrencyError(stream, expected, head);
}

type CommittedRow = Pick<
  Selectable<DomainEventsTable>,
  | 'event_id'
  | 'aggregate_type'
  | 'aggregate_id'
  | 'event_type'
  | 'version'
  | 'global_position'
  | 'event_data'
  | 'event_data_bytes'
  | 'codec'
  | 'key_id'
>;

/** Event ids are unique across the live and the archived log. */
const FIND_COMMITTED_SQL = `
  SELECT event_id, aggregate_type, aggregate_id, event_type, version, global_position,
         event_data, event_data_bytes, codec, key_id
  FROM ${logRelation('e')}
  WHERE e.event_id = ANY($1::uuid[])`;

/**
 * The retry of an append that already committed (an activity retried after its commit) finds
 * its own events: return what the first attempt returned and write nothing. Ids that exist
 * with other content are a bug, never a retry.
 */
async function findCommitted(
  ctx: StoreContext,
  stream: StreamName,
  prepared: { eventId: string; type: string; data: unknown }[],
): Promise<AppendResult | undefined> {
  const { rows } = await ctx.db.executeQuery<CommittedRow>(
    CompiledQuery.raw(FIND_COMMITTED_SQL, [prepared.map((p) => p.eventId)]),
  );
  if (rows.length === 0) return undefined;

  const byId = new Map(rows.map((r) => [r.event_id, r]));
  const mismatched = prepared.filter((p) => {
    const row = byId.get(p.eventId);
    if (!row) return true;
    const stored = ctx.codec.decode(storedPayload(row), rowAad(row));
    return (
      row.aggregate_type !== stream.type ||
      row.aggregate_id !== stream.id ||
      row.event_type !== p.type ||
      canonicalJson(stored) !== canonicalJson(p.data)
    );
  });
  if (mismatched.length > 0) throw new EventIdConflictError(mismatched.map((p) => p.eventId));

  const positions = prepared.map((p) => {
    const row = byId.get(p.eventId)!;
    return {
      eventId: p.eventId,
      version: row.version,
      globalPosition: toSafeNumber(row.global_position, 'global_position'),
    };
  });
  return { nextExpectedVersion: Math.max(...positions.map((p) => p.version)), positions };
}
