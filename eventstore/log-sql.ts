// The global log as readers see it: domain_events and domain_events_archive as one relation
// (retention moves rows to the archive with their positions, so merged in
// (transaction_id, global_position) order they are the log as it was written), read only below
// pg_snapshot_xmin. Every reader of the log builds its query here, so the gap-free bound lives
// in one place.

/** Columns both tables share, in the order of the archive's INSERT. */
export const LOG_COLUMNS = [
  'global_position',
  'transaction_id',
  'event_id',
  'aggregate_type',
  'aggregate_id',
  'version',
  'event_type',
  'schema_version',
  'event_data',
  'event_data_bytes',
  'codec',
  'key_id',
  'metadata',
  'created_at',
] as const;

/**
 * The live and archived events as one relation, aliased `alias`. The planner pushes the
 * predicates below into both branches and merges their (transaction_id, global_position)
 * index scans, so a read after a checkpoint stays an ordered index walk.
 */
export function logRelation(alias = 'e', columns: readonly string[] = LOG_COLUMNS): string {
  const list = columns.join(', ');
  return `(SELECT ${list} FROM domain_events UNION ALL SELECT ${list} FROM domain_events_archive) ${alias}`;
}

/**
 * The gap-free predicate: rows after the checkpoint `(txParam, posParam)` whose transaction is
 * older than every transaction still in progress. Identity values are handed out before commit,
 * so without the bound a reader could pass a row that becomes visible later.
 */
export function visibleAfter(alias: string, txParam: string, posParam: string): string {
  return (
    committedAfter(alias, txParam, posParam) +
    ` AND ${alias}.transaction_id < pg_snapshot_xmin(pg_current_snapshot())`
  );
}

/** The order the log is read (and checkpointed) in. */
export const logOrder = (alias: string) => `${alias}.transaction_id, ${alias}.global_position`;

/**
 * The first `limit` rows of the log (in log order) that `where` (written against alias `e`)
 * admits, as a relation aliased `e` for the caller to merge with ORDER BY logOrder and LIMIT:
 * each table's rows come from its own (transaction_id, global_position) index with the limit
 * inside, so a page is two ordered index walks of at most `limit` rows, whatever the planner
 * expects of the predicate. Over logRelation instead, the generic plan of a prepared read
 * estimates a handful of rows after the checkpoint, appends both tables and sorts everything
 * after it, so every page of a catch-up scanned and sorted the rest of the log.
 */
export function logPage(where: string, limit: string, columns: readonly string[] = LOG_COLUMNS) {
  const list = columns.join(', ');
  const branch = (table: string) =>
    `(SELECT ${list} FROM ${table} e WHERE ${where} ORDER BY ${logOrder('e')} LIMIT ${limit})`;
  return `(${branch('domain_events')} UNION ALL ${branch('domain_events_archive')}) e`;
}

/** The whole log after a checkpoint ($1 transaction id, $2 position), $3 rows, every column. */
export const READ_ALL_SQL = `
  SELECT e.* FROM ${logPage(visibleAfter('e', '$1', '$2'), '$3')}
  ORDER BY ${logOrder('e')}
  LIMIT $3`;

/** Columns the narrow read takes from the log: no metadata. */
const NARROW_COLUMNS = LOG_COLUMNS.filter((c) => c !== 'metadata');

/**
 * The same read narrowed to what projections use (about twice as fast, which is most of a
 * catch-up's cost): the payload only of the event types in $4 (null: all), no metadata, and
 * created_at as epoch milliseconds, much cheaper to parse than the driver's timestamps.
 */
export const NARROW_READ_ALL_SQL = `
  SELECT e.global_position, e.transaction_id::text AS transaction_id, e.event_id,
         e.aggregate_type, e.aggregate_id, e.version, e.event_type, e.schema_version, e.codec,
         e.key_id,
         CASE WHEN $4::text[] IS NULL OR e.event_type = ANY($4::text[])
              THEN e.event_data END AS event_data,
         CASE WHEN $4::text[] IS NULL OR e.event_type = ANY($4::text[])
              THEN e.event_data_bytes END AS event_data_bytes,
         (extract(epoch FROM e.created_at) * 1000)::float8 AS created_ms
  FROM ${logPage(visibleAfter('e', '$1', '$2'), '$3', NARROW_COLUMNS)}
  ORDER BY ${logOrder('e')}
  LIMIT $3`;

/** Rows after the checkpoint `(txParam, posParam)` that are committed, readable or not yet. */
export function committedAfter(alias: string, txParam: string, posParam: string): string {
  return `(${alias}.transaction_id, ${alias}.global_position) > (${txParam}::xid8, ${posParam}::bigint)`;
}

/** Unread events are counted one by one up to this many; beyond, estimated from positions. */
export const LAG_COUNT_CAP = 10_000;

/**
 * What a reader at the checkpoint `(txExpr, posExpr)` has still to read: `n` events, whether
 * that figure is `exact`, and when the `oldest` unread event was written. Lag counts every
 * committed event after the checkpoint, including those still behind pg_snapshot_xmin: a
 * transaction left open anywhere in the cluster stops readers, and the lag must show that
 * stall, not hide it. Bounded whatever the backlog: the count stops at LAG_COUNT_CAP rows;
 * beyond, the difference of global positions (an identity column: exact but for positions
 * burned by rolled-back appends) stands in; the oldest unread event is the first one in log
 * order, one index probe.
 */
export function lagSelect(txExpr: string, posExpr: string): string {
  const rel = logRelation('e', ['transaction_id', 'global_position', 'created_at']);
  const after = committedAfter('e', txExpr, posExpr);
  return `
    SELECT CASE WHEN counted.n < ${LAG_COUNT_CAP} THEN counted.n
                ELSE GREATEST(counted.n,
                  (SELECT coalesce(max(global_position), 0) FROM domain_events) - ${posExpr})
           END AS n,
           counted.n < ${LAG_COUNT_CAP} AS exact,
           (SELECT e.created_at
            FROM ${logPage(after, '1', ['transaction_id', 'global_position', 'created_at'])}
            ORDER BY ${logOrder('e')} LIMIT 1) AS oldest
    FROM (SELECT count(*) AS n FROM (SELECT 1 FROM ${rel} WHERE ${after}
                                      LIMIT ${LAG_COUNT_CAP}) capped) counted`;
}

/** Lag of a reader at ($1 transaction id, $2 position); see lagSelect. */
export const LAG_SQL = lagSelect('$1', '$2');
