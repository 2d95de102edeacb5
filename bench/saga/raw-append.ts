// The append a DBOS user would write by hand, for the saga bench's raw peer: one INSERT into the
// same domain_events table, the events numbered from one past the stream's head, the unique
// (aggregate_type, aggregate_id, version) key turning a lost race into a retry, and event ids
// derived from the workflow and step so a retried DBOS step writes nothing twice. No aggregate
// is loaded and no rule is checked: what the command path costs beyond this is what it does.
// The events are the domain's own (typed), so the streams the two DBOS peers share still fold.
import { v5 as uuidv5 } from 'uuid';
import { DBOS } from '@dbos-inc/dbos-sdk';
import { DatabaseError, type Pool } from 'pg';
import type { DomainEvent } from '../../domain/shared';

const EVENT_ID_NAMESPACE = '0b7c1f52-3f5e-4d8e-9f0a-2c6d1e4b8a71';

export interface RawStream {
  type: string;
  id: string;
  /** Starts the stream: numbered from 1, refused if the stream exists. */
  isNew?: boolean;
}

// ON CONFLICT names the event id only: a retried step is a no-op, a version race still raises.
const APPEND_SQL = `
  WITH head AS (
    SELECT CASE WHEN $3 THEN 0 ELSE coalesce(max(version), 0) END AS v
    FROM domain_events WHERE aggregate_type = $1 AND aggregate_id = $2
  )
  INSERT INTO domain_events
    (event_id, aggregate_type, aggregate_id, version, event_type, schema_version, event_data, metadata)
  SELECT (e->>'id')::uuid, $1, $2, head.v + ord, e->>'type', 1, e->'data', $5
  FROM head, jsonb_array_elements($4::jsonb) WITH ORDINALITY AS t(e, ord)
  ON CONFLICT (event_id) DO NOTHING`;

const UNIQUE_VIOLATION = '23505';

/** Appends `events` to `stream` as step `step` of the running DBOS workflow. */
export async function rawAppend(
  pool: Pool,
  step: string,
  stream: RawStream,
  events: readonly DomainEvent[],
  correlationId: string,
): Promise<void> {
  const workflowId = DBOS.workflowID ?? 'none';
  const origin = `${workflowId}/${step}`;
  const rows = events.map((e, i) => ({
    id: uuidv5(`${origin}/${stream.type}-${stream.id}/${i}`, EVENT_ID_NAMESPACE),
    type: e.type,
    data: e.data,
  }));
  const metadata = { correlationId, causationId: origin, workflowId };
  const values = [stream.type, stream.id, stream.isNew === true, JSON.stringify(rows), metadata];
  // One checked-out connection for the retries: pool.query() would drop the connection on every
  // lost race (pg-pool releases a client with its query's error) and reconnect.
  const client = await pool.connect();
  try {
    for (;;) {
      try {
        await client.query({ name: 'bench_raw_append', text: APPEND_SQL, values });
        return;
      } catch (error) {
        const race = error instanceof DatabaseError && error.code === UNIQUE_VIOLATION;
        // A new stream that exists is a refusal, as handleCommand's expectNew is.
        if (!race || stream.isNew) throw error;
      }
    }
  } finally {
    client.release();
  }
}
