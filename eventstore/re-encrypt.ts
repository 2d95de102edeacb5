// Re-encryption: rewrites every stored payload (live events, the archive, snapshots) that is not
// what the codec writes now (another key, the v1 envelope, plain when a key is set, encrypted
// when none is), so an old key can be retired. It runs beside a live product: each batch is one
// short transaction that UPDATEs the payload columns only (positions, transaction ids, versions
// and metadata stay as they are, so the xmin-bounded log reads and checkpoints are untouched),
// and each UPDATE is a compare-and-set on the old codec and key, so a row that changed meanwhile
// (retention moved it, a snapshot was rewritten) is left to the next pass. Nothing is
// checkpointed: a rewritten row no longer matches, so a run stopped halfway resumes by running
// again.
import { type Kysely, sql } from 'kysely';
import { AES_V2, type PayloadAad, type PayloadCodec } from './codec';
import { rowAad, storedPayload } from './recorded-event';
import { snapshotAad } from './snapshots';

export type PayloadTable = 'domain_events' | 'domain_events_archive' | 'aggregate_snapshots';
export const PAYLOAD_TABLES: readonly PayloadTable[] = [
  'domain_events',
  'domain_events_archive',
  'aggregate_snapshots',
];

/** The rows of a table that the codec would write differently now. */
function staleSql(codec: PayloadCodec) {
  return codec.currentKeyId === null
    ? sql`key_id IS NOT NULL`
    : sql`(key_id IS DISTINCT FROM ${codec.currentKeyId} OR codec NOT LIKE ${'%' + AES_V2})`;
}

export interface KeyUsage {
  /** null: payloads stored without encryption. */
  keyId: string | null;
  /** The envelope (codec column) the rows were written with. */
  codec: string;
  table: PayloadTable;
  payloads: number;
}

/** How many payloads each key (and envelope) still protects, per table. */
export async function keyUsage(db: Kysely<any>): Promise<KeyUsage[]> {
  const out: KeyUsage[] = [];
  for (const table of PAYLOAD_TABLES) {
    const { rows } = await sql<{ key_id: string | null; codec: string; n: string }>`
      SELECT key_id, codec, count(*) AS n FROM ${sql.table(table)}
      GROUP BY key_id, codec ORDER BY key_id NULLS FIRST, codec`.execute(db);
    for (const r of rows)
      out.push({ keyId: r.key_id, codec: r.codec, table, payloads: Number(r.n) });
  }
  return out;
}

/** Payloads not under the codec's current key, per table: what a re-encryption would rewrite. */
export async function countStale(
  db: Kysely<any>,
  codec: PayloadCodec,
): Promise<Record<PayloadTable, number>> {
  const counts = {} as Record<PayloadTable, number>;
  for (const table of PAYLOAD_TABLES) {
    const { rows } = await sql<{ n: string }>`
      SELECT count(*) AS n FROM ${sql.table(table)} WHERE ${staleSql(codec)}`.execute(db);
    counts[table] = Number(rows[0]!.n);
  }
  return counts;
}

export interface ReEncryptOptions {
  batchSize?: number;
  /** Called after each batch with the rows rewritten in it. */
  onBatch?: (table: PayloadTable, rewritten: number) => void;
  /** Passes over all three tables until one finds nothing (rows moved by retention meanwhile). */
  maxPasses?: number;
}

export interface ReEncryptReport {
  rewritten: Record<PayloadTable, number>;
  /** Rows still stale after the last pass (0 unless writers kept changing them). */
  remaining: number;
}

interface EventRow {
  global_position: string;
  event_id: string;
  aggregate_type: string;
  aggregate_id: string;
  event_type: string;
  event_data: unknown;
  event_data_bytes: Buffer | null;
  codec: string;
  key_id: string | null;
}

interface SnapshotRow {
  aggregate_type: string;
  aggregate_id: string;
  version: number;
  snapshot_data: unknown;
  snapshot_data_bytes: Buffer | null;
  codec: string;
  key_id: string | null;
}

function recode(
  codec: PayloadCodec,
  payload: ReturnType<typeof storedPayload>,
  aad: PayloadAad,
): { json: string | null; bytes: Buffer | null; codec: string; keyId: string | null } {
  const encoded = codec.encode(codec.decode(payload, aad), aad);
  return {
    json: encoded.bytes ? null : JSON.stringify(encoded.json),
    bytes: encoded.bytes,
    codec: encoded.codec,
    keyId: encoded.keyId,
  };
}

async function eventBatch(
  db: Kysely<any>,
  codec: PayloadCodec,
  table: 'domain_events' | 'domain_events_archive',
  after: string,
  limit: number,
): Promise<{ last: string | null; rewritten: number }> {
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql<EventRow>`
      SELECT global_position, event_id, aggregate_type, aggregate_id, event_type, event_data,
             event_data_bytes, codec, key_id
      FROM ${sql.table(table)}
      WHERE global_position > ${after}::bigint AND ${staleSql(codec)}
      ORDER BY global_position LIMIT ${limit}`.execute(trx);
    if (rows.length === 0) return { last: null, rewritten: 0 };
    const next = rows.map((r) => recode(codec, storedPayload(r), rowAad(r)));
    const result = await sql`
      UPDATE ${sql.table(table)} AS t
      SET event_data = v.json::jsonb, event_data_bytes = v.bytes, codec = v.codec, key_id = v.key_id
      FROM unnest(${rows.map((r) => r.event_id)}::uuid[], ${next.map((n) => n.json)}::text[],
                  ${next.map((n) => n.bytes)}::bytea[], ${next.map((n) => n.codec)}::text[],
                  ${next.map((n) => n.keyId)}::text[], ${rows.map((r) => r.codec)}::text[],
                  ${rows.map((r) => r.key_id)}::text[])
           AS v(event_id, json, bytes, codec, key_id, old_codec, old_key_id)
      WHERE t.event_id = v.event_id AND t.codec = v.old_codec
        AND t.key_id IS NOT DISTINCT FROM v.old_key_id`.execute(trx);
    return {
      last: rows[rows.length - 1]!.global_position,
      rewritten: Number(result.numAffectedRows ?? 0),
    };
  });
}

async function snapshotBatch(
  db: Kysely<any>,
  codec: PayloadCodec,
  after: [string, string, number],
  limit: number,
): Promise<{ last: [string, string, number] | null; rewritten: number }> {
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql<SnapshotRow>`
      SELECT aggregate_type, aggregate_id, version, snapshot_data, snapshot_data_bytes, codec,
             key_id
      FROM aggregate_snapshots
      WHERE (aggregate_type, aggregate_id, version) > (${after[0]}, ${after[1]}, ${after[2]}::int)
        AND ${staleSql(codec)}
      ORDER BY aggregate_type, aggregate_id, version LIMIT ${limit}`.execute(trx);
    if (rows.length === 0) return { last: null, rewritten: 0 };
    const next = rows.map((r) =>
      recode(
        codec,
        { codec: r.codec, json: r.snapshot_data, bytes: r.snapshot_data_bytes, keyId: r.key_id },
        snapshotAad({ type: r.aggregate_type, id: r.aggregate_id }, r.version),
      ),
    );
    const result = await sql`
      UPDATE aggregate_snapshots AS t
      SET snapshot_data = v.json::jsonb, snapshot_data_bytes = v.bytes, codec = v.codec,
          key_id = v.key_id
      FROM unnest(${rows.map((r) => r.aggregate_type)}::text[],
                  ${rows.map((r) => r.aggregate_id)}::text[], ${rows.map((r) => r.version)}::int[],
                  ${next.map((n) => n.json)}::text[], ${next.map((n) => n.bytes)}::bytea[],
                  ${next.map((n) => n.codec)}::text[], ${next.map((n) => n.keyId)}::text[],
                  ${rows.map((r) => r.codec)}::text[], ${rows.map((r) => r.key_id)}::text[])
           AS v(aggregate_type, aggregate_id, version, json, bytes, codec, key_id, old_codec,
                old_key_id)
      WHERE t.aggregate_type = v.aggregate_type AND t.aggregate_id = v.aggregate_id
        AND t.version = v.version AND t.codec = v.old_codec
        AND t.key_id IS NOT DISTINCT FROM v.old_key_id`.execute(trx);
    const last = rows[rows.length - 1]!;
    return {
      last: [last.aggregate_type, last.aggregate_id, last.version],
      rewritten: Number(result.numAffectedRows ?? 0),
    };
  });
}

/**
 * Rewrites every payload not under the codec's current key. The codec must still hold every
 * key the stale rows name (a missing one fails the batch with ENCRYPTION_KEY_MISSING, writing
 * nothing of it).
 */
export async function reEncrypt(
  db: Kysely<any>,
  codec: PayloadCodec,
  options: ReEncryptOptions = {},
): Promise<ReEncryptReport> {
  const limit = options.batchSize ?? 500;
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new RangeError('batch size must be a whole number >= 1');
  const rewritten: Record<PayloadTable, number> = {
    domain_events: 0,
    domain_events_archive: 0,
    aggregate_snapshots: 0,
  };
  const maxPasses = options.maxPasses ?? 3;
  for (let pass = 0; pass < maxPasses; pass++) {
    let found = 0;
    for (const table of ['domain_events', 'domain_events_archive'] as const) {
      let after = '0';
      for (;;) {
        const batch = await eventBatch(db, codec, table, after, limit);
        if (batch.last === null) break;
        after = batch.last;
        found += batch.rewritten;
        rewritten[table] += batch.rewritten;
        options.onBatch?.(table, batch.rewritten);
      }
    }
    let after: [string, string, number] = ['', '', 0];
    for (;;) {
      const batch = await snapshotBatch(db, codec, after, limit);
      if (batch.last === null) break;
      after = batch.last;
      found += batch.rewritten;
      rewritten.aggregate_snapshots += batch.rewritten;
      options.onBatch?.('aggregate_snapshots', batch.rewritten);
    }
    const stale = await countStale(db, codec);
    const remaining = Object.values(stale).reduce((a, b) => a + b, 0);
    if (remaining === 0 || found === 0) return { rewritten, remaining };
  }
  const stale = await countStale(db, codec);
  return { rewritten, remaining: Object.values(stale).reduce((a, b) => a + b, 0) };
}
