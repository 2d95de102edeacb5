// Append throughput of this event store against raw `pg` and Emmett's appendToStream
// (@event-driven-io/emmett-postgresql), side by side in the same run, on the same Postgres,
// each subject on a fresh database and a pool as large as the concurrency.
//   single: one-event appends to distinct new streams (expected version: no stream), at 1, 8, 32
//   batch:  100-event appends to distinct new streams, 8 writers
//   hot:    16 writers appending single events to one stream with no version check
// Raw pg is BEGIN; INSERT one row (a 100-row INSERT for batches); COMMIT into a table with the
// same stream/version unique key, retrying a lost version race on the hot stream.
import { randomUUID } from 'node:crypto';
import { NO_CONCURRENCY_CHECK, STREAM_DOES_NOT_EXIST } from '@event-driven-io/emmett';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import { createDb, createEventStore, createPool, type EventStoreTables } from '../../eventstore';
import {
  type BenchContext,
  type BenchRow,
  type BenchScenario,
  median,
  withRatios,
} from '../scenario';

type Mode = 'single' | 'batch' | 'hot';

interface Variant {
  name: string;
  mode: Mode;
  concurrency: number;
  /** Appends per run. */
  ops: number;
  eventsPerOp: number;
}

/** One subject's append, ready to run: op(i) appends the i-th op's events. */
interface Subject {
  op: (i: number) => Promise<void>;
  close: () => Promise<void>;
}

const payload = (i: number, k: number) => ({ orderId: `o-${i}`, line: k, sku: 'SKU-MUG', qty: 2 });

async function thisStore(url: string, v: Variant, run: string): Promise<Subject> {
  const pool = createPool(url, { max: v.concurrency });
  const db = createDb<EventStoreTables>(pool);
  const store = createEventStore(db);
  const hot = { type: 'Bench', id: `hot-${run}` };
  return {
    op: async (i) => {
      const events = Array.from({ length: v.eventsPerOp }, (_, k) => ({
        type: 'ItemAdded',
        data: payload(i, k),
      }));
      if (v.mode === 'hot') await store.appendToStream(hot, 'any', events);
      else await store.appendToStream({ type: 'Bench', id: `${run}-${i}` }, 'no_stream', events);
    },
    close: () => db.destroy(),
  };
}

async function emmett(url: string, v: Variant, run: string): Promise<Subject> {
  const pool = new pg.Pool({ connectionString: url, max: v.concurrency });
  const store = getPostgreSQLEventStore(url, { connectionOptions: { pool } });
  await store.schema.migrate();
  // Emmett refuses concurrent first appends to a stream without a version check: create it first.
  if (v.mode === 'hot')
    await store.appendToStream(`Bench-hot-${run}`, [{ type: 'Opened', data: {} }], {
      expectedStreamVersion: STREAM_DOES_NOT_EXIST,
    });
  return {
    op: async (i) => {
      const events = Array.from({ length: v.eventsPerOp }, (_, k) => ({
        type: 'ItemAdded',
        data: payload(i, k),
      }));
      if (v.mode === 'hot') {
        // Emmett reports concurrent appends to one stream without a version check as a
        // version mismatch: they are retried, as the raw pg baseline retries its races.
        for (;;) {
          try {
            await store.appendToStream(`Bench-hot-${run}`, events, {
              expectedStreamVersion: NO_CONCURRENCY_CHECK,
            });
            return;
          } catch (err) {
            if (!(err instanceof Error && /does not match/.test(err.message))) throw err;
          }
        }
      } else
        await store.appendToStream(`Bench-${run}-${i}`, events, {
          expectedStreamVersion: STREAM_DOES_NOT_EXIST,
        });
    },
    close: async () => {
      await store.close();
      await pool.end().catch(() => undefined);
    },
  };
}

async function rawPg(url: string, v: Variant, run: string): Promise<Subject> {
  const pool = new pg.Pool({ connectionString: url, max: v.concurrency });
  await pool.query(`CREATE TABLE IF NOT EXISTS raw_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_id uuid NOT NULL UNIQUE,
    stream_id text NOT NULL, version int NOT NULL, type text NOT NULL, data jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(), UNIQUE (stream_id, version))`);
  const insert = async (client: pg.PoolClient, stream: string, i: number, version: string) => {
    const rows = Array.from({ length: v.eventsPerOp }, (_, k) => k);
    const values = rows.map(
      (k) =>
        `($${k * 3 + 1}, $${k * 3 + 2}, ${version}${k ? ` + ${k}` : ''}, 'ItemAdded', $${k * 3 + 3})`,
    );
    await client.query(
      `INSERT INTO raw_events (event_id, stream_id, version, type, data) VALUES ${values.join(', ')}`,
      rows.flatMap((k) => [randomUUID(), stream, JSON.stringify(payload(i, k))]),
    );
  };
  return {
    op: async (i) => {
      const client = await pool.connect();
      try {
        for (;;) {
          await client.query('BEGIN');
          try {
            if (v.mode === 'hot') {
              const stream = `hot-${run}`;
              // The next version is read in the same statement; a lost race is retried.
              await insert(
                client,
                stream,
                i,
                `(SELECT coalesce(max(version), 0) + 1 FROM raw_events WHERE stream_id = '${stream}')`,
              );
            } else {
              await insert(client, `${run}-${i}`, i, '1');
            }
            await client.query('COMMIT');
            return;
          } catch (err) {
            await client.query('ROLLBACK');
            if (!(v.mode === 'hot' && (err as { code?: string }).code === '23505')) throw err;
          }
        }
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

const subjects = { 'this store': thisStore, emmett, 'raw pg': rawPg } as const;
type SubjectName = keyof typeof subjects;

/** Runs `ops` appends with `concurrency` workers; returns events per second. */
async function measure(subject: Subject, v: Variant): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: v.concurrency }, async () => {
      for (let i = next++; i < v.ops; i = next++) await subject.op(i);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return (v.ops * v.eventsPerOp) / seconds;
}

// Runs are short (about a second each) and many, alternating subjects, so that load from other
// processes on a shared machine lands on every subject alike; the median drops the outliers.
function variants(quick: boolean): Variant[] {
  const n = (full: number) => (quick ? Math.ceil(full / 2) : full);
  return [
    { name: 'single, concurrency 1', mode: 'single', concurrency: 1, ops: n(500), eventsPerOp: 1 },
    { name: 'single, concurrency 8', mode: 'single', concurrency: 8, ops: n(1500), eventsPerOp: 1 },
    {
      name: 'single, concurrency 32',
      mode: 'single',
      concurrency: 32,
      ops: n(2000),
      eventsPerOp: 1,
    },
    {
      name: '100-event batches, concurrency 8',
      mode: 'batch',
      concurrency: 8,
      ops: n(160),
      eventsPerOp: 100,
    },
    { name: 'hot stream, 16 writers', mode: 'hot', concurrency: 16, ops: n(500), eventsPerOp: 1 },
  ];
}

async function run(ctx: BenchContext): Promise<BenchRow[]> {
  // One database per subject, reused across variants and repeats (each run writes new streams).
  const urls = {} as Record<SubjectName, string>;
  for (const name of Object.keys(subjects) as SubjectName[]) urls[name] = await ctx.freshDatabase();

  const rows: BenchRow[] = [];
  for (const v of variants(ctx.quick)) {
    const runs = { 'this store': [], emmett: [], 'raw pg': [] } as Record<SubjectName, number[]>;
    const repeats = ctx.quick ? 3 : Math.max(ctx.repeats, 7);
    for (let r = 0; r < repeats; r++) {
      // Subjects alternate within each repeat so drift on a shared machine hits them alike.
      for (const name of Object.keys(subjects) as SubjectName[]) {
        const subject = await subjects[name](urls[name], v, randomUUID());
        try {
          // A short warm-up fills the pool and the plan caches.
          const warm = { ...v, ops: Math.min(v.ops, v.concurrency * 2) };
          await measure({ ...subject, op: (i) => subject.op(v.ops + i) }, warm);
          const rate = await measure(subject, v);
          runs[name].push(rate);
          ctx.log(`${v.name}: ${name} ${rate.toFixed(0)} events/s`);
        } finally {
          await subject.close();
        }
      }
    }
    const variantRows = (Object.keys(subjects) as SubjectName[]).map((subject): BenchRow => ({
      scenario: 'append',
      subject,
      variant: v.name,
      metric: 'throughput',
      unit: 'events/s',
      value: median(runs[subject]),
      runs: runs[subject],
    }));
    rows.push(...withRatios(variantRows, 'raw pg'));
    const vsEmmett = median(runs['this store']) / median(runs.emmett);
    rows.push({
      scenario: 'append',
      subject: 'this store / emmett',
      variant: v.name,
      metric: 'throughput ratio',
      unit: 'x',
      value: vsEmmett,
      runs: runs['this store'].map((x, i) => x / runs.emmett[i]!),
    });
  }
  return rows;
}

const scenario: BenchScenario = { name: 'append', run };
export default scenario;
