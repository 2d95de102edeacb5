// The command path against a hand-written optimistic append, side by side in the same run, on
// the same Postgres: `handleCommand` (load or cache hit, decide, append, snapshot policy, notify)
// of a GrantCredit on a CustomerCredit stream, as the saga's activities run it, against the raw
// INSERT a DBOS user would write (bench/saga/raw-append.ts: one statement, the version taken
// from the stream's head, a lost race retried, no aggregate loaded, no rule checked).
//   cold: every command on a new stream (what the saga's create steps do)
//   hot:  1, 4 and 16 writers sharing one stream (one product, one customer)
// Beside them, Emmett's command handler (DeciderCommandHandler) running the same decider on
// Emmett's Postgres event store, configured as its documentation has it for production.
// Per subject and variant: p50/p99 latency, commands/s, Node and Postgres CPU per command, and
// statements and round trips per command, counted on the pool's client.
import { randomUUID } from 'node:crypto';
import { DeciderCommandHandler } from '@event-driven-io/emmett';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { v5 as uuidv5 } from 'uuid';
import { AggregateCache, DEFAULT_AGGREGATE_CACHE_SIZE } from '../../application/aggregate-cache';
import { handleCommand } from '../../application/handle-command';
import { loadConfig } from '../../config';
import {
  CreditDecider,
  type CreditCommand,
  type CreditEvent,
  type CreditState,
} from '../../domain/credit/credit.decider';
import {
  createDb,
  createEventStore,
  eventStoreOptionsFromConfig,
  type EventStoreTables,
} from '../../eventstore';
import { CpuMeter } from '../cpu';
import { rawAppend } from '../saga/raw-append';
import {
  type BenchContext,
  type BenchRow,
  type BenchScenario,
  median,
  percentile,
  withRatios,
} from '../scenario';

const NAME = 'command';
const EVENT_ID_NAMESPACE = '5d2f8a3e-9c41-4b7a-8e06-1f3b7c9d2a64';
const BASELINE = 'raw INSERT';

interface Variant {
  name: string;
  hot: boolean;
  writers: number;
}

/** Counts what the pool's connections send: each query() is a statement and a round trip. */
const sent = { statements: 0 };
class CountingClient extends pg.Client {
  override query(...args: unknown[]): never {
    sent.statements += 1;
    return (super.query as (...a: unknown[]) => never)(...args);
  }
}

interface Subject {
  command: (i: number) => Promise<void>;
  close: () => Promise<void>;
}

const grant = (customerId: string, i: number): CreditCommand => ({
  type: 'GrantCredit',
  customerId,
  cents: 100 + (i % 7),
  now: new Date().toISOString(),
});

function streamFor(v: Variant, run: string, i: number): string {
  return v.hot ? `hot-${run}` : `cold-${run}-${i}`;
}

/** handleCommand through the store the worker builds from the default configuration. */
function commandPath(pool: pg.Pool, v: Variant, run: string): Subject {
  const db = createDb<EventStoreTables>(pool);
  const store = createEventStore(db, eventStoreOptionsFromConfig(loadConfig({}).eventStore));
  const cache = new AggregateCache(DEFAULT_AGGREGATE_CACHE_SIZE);
  return {
    command: async (i) => {
      const id = streamFor(v, run, i);
      await handleCommand(store, CreditDecider, id, grant(id, i), {
        // Derived ids, as the activities derive theirs (and the raw append its own).
        eventId: (k) => uuidv5(`${run}/${i}/${k}`, EVENT_ID_NAMESPACE),
        metadata: { correlationId: run, causationId: `${run}/${i}` },
        cache,
        expectNew: !v.hot,
      });
    },
    close: () => db.destroy(),
  };
}

/** The same event, appended by one hand-written statement. */
function rawInsert(pool: pg.Pool, v: Variant, run: string): Subject {
  return {
    command: async (i) => {
      const id = streamFor(v, run, i);
      // The event the decider would produce, built by hand as a raw user would.
      const events = [
        {
          type: 'CreditGranted',
          data: { customer_id: id, created_at: new Date().toISOString(), cents: 100 + (i % 7) },
        },
      ];
      await rawAppend(
        pool,
        `${run}-${i}`,
        { type: 'CustomerCredit', id, isNew: !v.hot },
        events,
        run,
      );
    },
    close: () => pool.end(),
  };
}

/**
 * Emmett's command handler over the same decider (its commands carry their payload in `data`).
 * As Emmett's docs set it up for production: the store on the application's pg pool, its schema
 * migrated once before the run (scenario.run) and not checked again per store
 * (`autoMigration: 'None'`), and the handler retrying a version conflict, which is how Emmett
 * handles writers racing on one stream: reload, decide again, with its backoff (10 retries
 * here, as handleCommand's 10 attempts, instead of the default 3, which lose commands at 16).
 * It reads the stream and appends with the version read, one session per command: no cache,
 * no snapshots.
 */
const emmettHandle = DeciderCommandHandler<
  CreditState,
  { type: CreditCommand['type']; data: CreditCommand },
  CreditEvent
>({
  decide: (command, state) => CreditDecider.decide(command.data, state),
  evolve: (state, event) => CreditDecider.evolve(state, event),
  initialState: () => CreditDecider.initialState(),
  mapToStreamId: (id) => `CustomerCredit-${id}`,
});

function emmett(pool: pg.Pool, v: Variant, run: string): Subject {
  const url = (pool.options as { connectionString: string }).connectionString;
  const store = getPostgreSQLEventStore(url, {
    connectionOptions: { pool },
    schema: { autoMigration: 'None' },
  });
  return {
    command: async (i) => {
      const id = streamFor(v, run, i);
      const command = grant(id, i);
      await emmettHandle(
        store,
        id,
        { type: command.type, data: command },
        { retry: { onVersionConflict: 10 } },
      );
    },
    close: async () => {
      await store.close();
      await pool.end().catch(() => undefined);
    },
  };
}

const subjects = { handleCommand: commandPath, emmett, [BASELINE]: rawInsert } as const;

/** Emmett's tables, created once per database as its CLI or first store would. */
async function migrateEmmett(url: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const store = getPostgreSQLEventStore(url, { connectionOptions: { pool } });
  try {
    await store.schema.migrate();
  } finally {
    await store.close();
    await pool.end();
  }
}

/**
 * Emmett reads the whole stream for every command (no snapshot, no cache), so a hot stream's
 * command costs grow with the stream: its hot runs stop at this many commands, a stream of that
 * many events, where handleCommand's and the raw INSERT's run the full count (their cost does
 * not grow with the stream).
 */
const EMMETT_HOT_COMMANDS = 500;

interface RunFigures {
  commands: number;
  latencies: number[];
  seconds: number;
  nodeMs: number;
  postgresMs: number;
  statements: number;
}

async function runOnce(
  ctx: BenchContext,
  url: string,
  label: string,
  make: (pool: pg.Pool, v: Variant, run: string) => Subject,
  v: Variant,
  commands: number,
): Promise<RunFigures> {
  const pool = new pg.Pool({ connectionString: url, max: v.writers, Client: CountingClient });
  // The runner drops the bench's databases (WITH FORCE) at the end: a connection pg-pool has not
  // finished closing by then is ended by the server, which is no error of the bench.
  pool.on('error', () => undefined);
  const run = randomUUID().slice(0, 8);
  const subject = make(pool, v, run);
  const admin = new pg.Pool({ connectionString: url, max: 1 });
  admin.on('error', () => undefined);
  const database = new URL(url).pathname.slice(1);
  const meter = new CpuMeter(admin, () => [database], undefined);
  // Warm: every connection open and its statements prepared, the hot stream started.
  await Promise.all(Array.from({ length: v.writers }, (_, w) => subject.command(-1 - w)));
  const before = await meter.sample();
  const statementsBefore = sent.statements;
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: v.writers }, async () => {
      while (next < commands) {
        const i = next++;
        const start = performance.now();
        await subject.command(i);
        latencies.push(performance.now() - start);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const statements = sent.statements - statementsBefore;
  const cpu = await meter.since(before);
  await subject.close();
  await admin.end();
  ctx.log(`${v.name}, ${label}: ${commands} commands in ${seconds.toFixed(1)} s`);
  return {
    commands,
    latencies,
    seconds,
    nodeMs: cpu.nodeMs,
    postgresMs: cpu.postgresMs,
    statements,
  };
}

const scenario: BenchScenario = {
  name: NAME,
  async run(ctx) {
    const commands = ctx.quick ? 300 : 2_000;
    const variants: Variant[] = [
      { name: 'cold stream, 4 writers', hot: false, writers: 4 },
      ...[1, 4, 16].map((writers) => ({
        name: `hot stream, ${writers} writers`,
        hot: true,
        writers,
      })),
    ];
    const url = await ctx.freshDatabase();
    await migrateEmmett(url);
    const rows: BenchRow[] = [];
    for (const v of variants) {
      const figures = new Map<string, RunFigures[]>();
      // Subjects alternate within each repeat, so both meet the same machine.
      for (let r = 0; r < ctx.repeats; r++) {
        for (const [name, make] of Object.entries(subjects)) {
          const list = figures.get(name) ?? [];
          const count =
            name === 'emmett' && v.hot ? Math.min(commands, EMMETT_HOT_COMMANDS) : commands;
          list.push(await runOnce(ctx, url, name, make, v, count));
          figures.set(name, list);
        }
      }
      for (const [subject, runs] of figures) {
        const metric = (name: string, unit: string, of: (f: RunFigures) => number): BenchRow => {
          const values = runs.map(of);
          return {
            scenario: NAME,
            subject,
            variant: v.name,
            metric: name,
            unit,
            value: median(values),
            runs: values,
          };
        };
        rows.push(
          metric('p50', 'ms', (f) => percentile(f.latencies, 50)),
          metric('p99', 'ms', (f) => percentile(f.latencies, 99)),
          metric('commands/s', 'cmd/s', (f) => f.commands / f.seconds),
          metric('Node CPU per command', 'ms', (f) => f.nodeMs / f.commands),
          metric('Postgres CPU per command', 'ms', (f) => f.postgresMs / f.commands),
          metric('statements per command', 'stmt', (f) => f.statements / f.commands),
        );
      }
    }
    return withRatios(rows, BASELINE);
  },
};

export default scenario;
