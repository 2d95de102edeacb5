// The projection runner: for each projection, read the global log after its checkpoint and
// apply a batch of events in one transaction that also moves the checkpoint, so a crash never
// applies an event twice or loses one. Only the holder of the projection's advisory lock runs
// it; another runner waits as standby and takes over when the holder's session ends. New
// events wake it through LISTEN/NOTIFY; polling covers a lost notification.
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Checkpoint, EventStore, RecordedEvent } from '../eventstore';
import type { Projection } from './projection';
import type { ReadModelTables } from './schema';

export interface RunnerOptions {
  databaseUrl: string;
  store: EventStore;
  projections: readonly Projection[];
  batchSize?: number;
  pollIntervalMs?: number;
  /** How often a standby runner tries to take the lock. */
  standbyRetryMs?: number;
  logger?: Logger;
}

export type RunnerState = 'starting' | 'active' | 'standby' | 'failed' | 'stopped';

/** Kysely over one dedicated connection, so the lock, the writes and the checkpoint share it. */
function kyselyOn(client: pg.Client): Kysely<ReadModelTables> {
  const pool = {
    connect: () => Promise.resolve(Object.assign(client, { release: () => undefined })),
    end: () => Promise.resolve(),
  };
  return new Kysely<ReadModelTables>({
    dialect: new PostgresDialect({ pool: pool }),
  });
}

export class ProjectionRunner {
  private stopped = false;
  private readonly loops: Promise<void>[] = [];
  private readonly wakers = new Set<() => void>();
  private listener: pg.Client | undefined;
  readonly states = new Map<string, RunnerState>();

  constructor(private readonly options: RunnerOptions) {}

  async start(): Promise<void> {
    this.listener = new pg.Client({ connectionString: this.options.databaseUrl });
    this.listener.on('notification', () => this.wakeAll());
    this.listener.on('error', (err) => {
      if (!this.stopped)
        this.options.logger?.warn({ err }, 'projection listener lost; polling only');
    });
    await this.listener.connect();
    await this.listener.query('LISTEN domain_events');
    for (const projection of this.options.projections) {
      this.states.set(projection.name, 'starting');
      this.loops.push(this.supervise(projection));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeAll();
    await Promise.all(this.loops);
    await this.listener?.end().catch(() => undefined);
  }

  private wakeAll(): void {
    for (const wake of this.wakers) wake();
    this.wakers.clear();
  }

  /** Resolves on a notification, after `ms`, or at stop. */
  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const wakers = this.wakers;
      function done() {
        clearTimeout(timer);
        wakers.delete(done);
        resolve();
      }
      wakers.add(done);
    });
  }

  /** Keeps one projection running: take the lock or stand by, and reconnect after errors. */
  private async supervise(projection: Projection): Promise<void> {
    const log = this.options.logger?.child({ projection: projection.name });
    while (!this.stopped) {
      const client = new pg.Client({ connectionString: this.options.databaseUrl });
      client.on('error', () => undefined);
      try {
        await client.connect();
        const { rows } = await client.query<{ locked: boolean }>(
          `SELECT pg_try_advisory_lock(hashtext($1)) AS locked`,
          [`projection:${projection.name}`],
        );
        if (!rows[0]?.locked) {
          this.states.set(projection.name, 'standby');
          await client.end();
          await this.sleep(this.options.standbyRetryMs ?? 2000);
          continue;
        }
        this.states.set(projection.name, 'active');
        log?.info('projection active');
        const outcome = await this.run(projection, client);
        await client.end();
        if (outcome === 'failed') {
          this.states.set(projection.name, 'failed');
          return;
        }
      } catch (err) {
        if (!this.stopped) log?.warn({ err }, 'projection connection lost; retrying');
        await client.end().catch(() => undefined);
        await this.sleep(1000);
      }
    }
    this.states.set(projection.name, 'stopped');
  }

  private async run(projection: Projection, client: pg.Client): Promise<'stopped' | 'failed'> {
    const db = kyselyOn(client);
    await db
      .insertInto('projection_checkpoints')
      .values({ name: projection.name, global_position: 0, events_processed: 0, status: 'running' })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    const row = await db
      .selectFrom('projection_checkpoints')
      .select(['transaction_id', 'global_position', 'status'])
      .where('name', '=', projection.name)
      .executeTakeFirstOrThrow();
    // A failed projection stays stopped until an operator rebuilds it: skipping is never silent.
    if (row.status === 'failed') return 'failed';
    let checkpoint: Checkpoint = {
      transactionId: row.transaction_id,
      globalPosition: Number(row.global_position),
    };

    while (!this.stopped) {
      const batch = await this.options.store.readAllFrom(checkpoint, this.options.batchSize ?? 500);
      if (batch.events.length === 0) {
        await this.sleep(this.options.pollIntervalMs ?? 1000);
        continue;
      }
      const failure = await applyBatch(
        client,
        db,
        projection,
        checkpoint,
        batch.events,
        batch.checkpoint,
      );
      if (failure) {
        this.options.logger?.error(
          { projection: projection.name, event: failure.event.globalPosition, err: failure.error },
          'projection failed',
        );
        return 'failed';
      }
      checkpoint = batch.checkpoint;
    }
    return 'stopped';
  }
}

/**
 * Applies events and moves the checkpoint in one transaction. The checkpoint update is a
 * compare-and-set on the previous position: should two runners ever overlap, the second one
 * writes nothing. Returns the failing event when one cannot be applied; the projection is
 * then marked failed, with the error, in a transaction of its own.
 */
export async function applyBatch(
  client: pg.ClientBase,
  db: Kysely<ReadModelTables>,
  projection: Projection,
  from: Checkpoint,
  events: readonly RecordedEvent[],
  to: Checkpoint,
): Promise<{ event: RecordedEvent; error: Error } | undefined> {
  await client.query('BEGIN');
  let failed: { event: RecordedEvent; error: Error } | undefined;
  try {
    let applied = 0;
    for (const event of events) {
      if (!projection.handles.has(event.type)) continue;
      try {
        await projection.apply(db, event);
      } catch (err) {
        failed = { event, error: err instanceof Error ? err : new Error(String(err)) };
        throw err;
      }
      applied++;
    }
    const last = events[events.length - 1]!;
    const moved = await db
      .updateTable('projection_checkpoints')
      .set({
        transaction_id: to.transactionId,
        global_position: to.globalPosition,
        events_processed: sql`events_processed + ${applied}`,
        last_event_at: last.createdAt,
        updated_at: new Date(),
      })
      .where('name', '=', projection.name)
      .where(
        sql<boolean>`(transaction_id, global_position) = (${from.transactionId}::xid8, ${from.globalPosition}::bigint)`,
      )
      .executeTakeFirst();
    if (moved.numUpdatedRows !== 1n)
      throw new Error(`checkpoint of ${projection.name} moved under us`);
    await client.query('COMMIT');
    return undefined;
  } catch (err) {
    await client.query('ROLLBACK');
    if (!failed) throw err;
    const { event, error } = failed;
    await db
      .updateTable('projection_checkpoints')
      .set({
        status: 'failed',
        last_error: `event ${event.globalPosition} (${event.type} ${event.streamType}-${event.streamId} v${event.version}): ${error.message}`,
        updated_at: new Date(),
      })
      .where('name', '=', projection.name)
      .execute();
    return failed;
  }
}
