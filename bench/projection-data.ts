// Fills a database with a saga-shaped log fast, for the projection benchmarks: the events of
// projections/sample-history.ts, inserted in large multi-row statements (one transaction each).
import type pg from 'pg';
import { catalogAppends, type HistoryOptions, orderAppends } from '../test/sample-history';

const SCHEMA_VERSIONS: Record<string, number> = { OrderCreated: 2, OrderItemAdded: 2 };

export async function fillLog(
  pool: pg.Pool,
  targetEvents: number,
  options: Partial<HistoryOptions> = {},
): Promise<number> {
  const o = { orders: 0, customers: 2000, products: 500, prefix: '', cancelEvery: 5, ...options };
  const versions = new Map<string, number>();
  let rows: [string, string, number, string, number, string][] = [];
  let total = 0;
  const flush = async () => {
    if (rows.length === 0) return;
    await pool.query(
      `INSERT INTO domain_events
         (event_id, aggregate_type, aggregate_id, version, event_type, schema_version, event_data)
       SELECT gen_random_uuid(), t, i, v, e, s, d
       FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::int[], $6::jsonb[])
         AS x(t, i, v, e, s, d)`,
      [0, 1, 2, 3, 4, 5].map((k) => rows.map((r) => r[k])),
    );
    total += rows.length;
    rows = [];
  };
  const add = (appends: ReturnType<typeof catalogAppends>) => {
    for (const a of appends) {
      const key = `${a.stream.type}/${a.stream.id}`;
      for (const e of a.events) {
        const v = (versions.get(key) ?? 0) + 1;
        versions.set(key, v);
        rows.push([
          a.stream.type,
          a.stream.id,
          v,
          e.type,
          SCHEMA_VERSIONS[e.type] ?? 1,
          JSON.stringify(e.data),
        ]);
      }
    }
  };
  add(catalogAppends(o));
  for (let i = 0; total + rows.length < targetEvents; i++) {
    add(orderAppends(i, o));
    if (rows.length >= 20_000) await flush();
  }
  await flush();
  await pool.query('ANALYZE domain_events');
  return total;
}
