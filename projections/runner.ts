// The projection runner: for each projection, read the global log after its checkpoint and
// apply a batch of events in one transaction that also moves the checkpoint, so a crash never
// applies an event twice or loses one. Only the holder of the projection's advisory lock runs
// it; another runner waits as standby and takes over when the holder's session ends. New
// events wake it through LISTEN/NOTIFY; polling covers a lost notification. Each projection
// has its own connection and loop: one that fails (or loses its connection) stops only itself.
import pg from 'pg';
import type { Logger } from 'pino';
import {
  type Checkpoint,
  type EventStore,
  NOTIFY_CHANNEL,
  type RecordedEvent,
} from '../eventstore';
import { setAsideAndMove, type SetAside } from './dead-letters';
import { type LogBatch, LogReader, undecodableReason } from './log-reader';
import { liveTables, type Projection, ProjectionApplyError } from './projection';

export interface RunnerOptions {
  databaseUrl: string;
  /** Reads the log (decoding only the events a projection handles). */
  store: Pick<EventStore, 'readAllFrom' | 'assertNotRestored'>;
  projections: readonly Projection[];
  /** Events per batch (and per transaction). */
  batchSize?: number;
  /** Longest wait between two looks at the log when no notification comes. */
  pollIntervalMs?: number;
  /**
   * A standby waits for the lock on its one connection (pg_advisory_lock under lock_timeout,
   * so it takes over the moment the holder's session ends); this is how long each wait lasts
   * before it looks whether the runner is stopping (default 10 s).
   */
  standbyRetryMs?: number;
  /** LISTEN for new events (default true); false leaves polling only. */
  listen?: boolean;
  logger?: Logger;
  /** Called after each committed batch (metrics). */
  onBatch?: (info: BatchInfo) => void;
  /**
   * Attempts at an event whose fold throws (other than the faults that fail a projection, see
   * isEventFault) before it is set aside in projection_dead_letters and the projection goes
   * on (default 3).
   */
  deadLetterAfter?: number;
  /** Pause before the first new attempt at such an event; doubles, up to 2 s (default 200). */
  retryBackoffMs?: number;
  /** Called when an event is set aside (metrics, alerts). */
  onDeadLetter?: (projection: string, aside: SetAside) => void;
}

export interface BatchInfo {
  projection: string;
  checkpoint: Checkpoint;
  events: number;
  applied: number;
  lastEventAt: Date;
}

export type RunnerState = 'starting' | 'active' | 'standby' | 'failed' | 'retrying' | 'stopped';

/** The checkpoint no longer is where this runner left it (a rebuild swapped the read model). */
export class CheckpointMovedError extends Error {
  readonly code = 'CHECKPOINT_MOVED';
  constructor(projection: string) {
    super(`checkpoint of ${projection} moved under this runner`);
    this.name = 'CheckpointMovedError';
  }
}

/** Keys of the session-level advisory lock that makes a runner active for a projection. */
export const LOCK_SQL = `hashtext('order-saga:projection'), hashtext($1)`;

const MIN_IDLE_MS = 5;

/** Errors caused by the event's content, not by the connection: they stop the projection. */
export function isEventFault(err: unknown): boolean {
  if (err instanceof ProjectionApplyError) return true;
  const code = (err as { code?: unknown })?.code;
  // 22: data exception, 23: integrity constraint violation.
  return err instanceof pg.DatabaseError && typeof code === 'string' && /^2[23]/.test(code);
}

/** SQLSTATE classes of a passing condition: connection, transaction rollback, resources, locks. */
const TRANSIENT_SQLSTATE = /^(08|40|53|55|57|58)/;

/**
 * Whether an error out of a fold (not an isEventFault) is the event's: not a transient
 * database condition, and the connection still answers. Such an error is retried a few times,
 * then the event is set aside. `client` must not be inside a failed transaction.
 */
export async function isFoldFault(client: pg.ClientBase, err: unknown): Promise<boolean> {
  const code = (err as { code?: unknown })?.code;
  if (err instanceof pg.DatabaseError && typeof code === 'string' && TRANSIENT_SQLSTATE.test(code))
    return false;
  try {
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  }
}

export function connectionOptions(url: string, applicationName: string): pg.ClientConfig {
  return {
    connectionString: url,
    application_name: applicationName,
    // A commit lost in a Postgres crash loses its checkpoint move with it: the batch is simply
    // applied again, so projections need not wait for the WAL flush.
    options: '-c idle_in_transaction_session_timeout=60000 -c synchronous_commit=off',
  };
}

export class ProjectionRunner {
  private stopped = false;
  private readonly loops: Promise<void>[] = [];
  private readonly wakers = new Set<(woken: boolean) => void>();
  private listener: pg.Client | undefined;
  private listenerLoop: Promise<void> | undefined;
  private readonly reader: LogReader;
  /** Global position of each active projection of this runner, for pacing the catch-up. */
  private readonly positions = new Map<string, number>();
  /** Failed attempts at an event, per projection and event id, until it folds or is set aside. */
  private readonly attempts = new Map<string, number>();
  /** Backend pids of the connections waiting for a lock: stop() cancels their waits. */
  private readonly waiting = new Set<number>();
  readonly states = new Map<string, RunnerState>();

  constructor(private readonly options: RunnerOptions) {
    const batchSize = options.batchSize ?? 10_000;
    const types = new Set(options.projections.flatMap((p) => [...p.handles]));
    this.reader = LogReader.fromStore(options.store, types, batchSize);
  }

  /** Refuses a database restored from a logical dump (RestoredDatabaseError) before reading. */
  async start(): Promise<void> {
    await this.options.store.assertNotRestored();
    if (this.options.listen !== false) this.listenerLoop = this.listen();
    for (const projection of this.options.projections) {
      this.states.set(projection.name, 'starting');
      this.loops.push(this.supervise(projection));
    }
  }

  /** Finishes the batches in flight, releases the locks, closes the connections. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeAll();
    await this.cancelWaits();
    await Promise.all(this.loops);
    await this.listener?.end().catch(() => undefined);
    await this.listenerLoop;
  }

  /**
   * Cancels the standbys' lock waits on the server: a backend blocked on a lock does not notice
   * its client leaving, and would hold its connection (and might take the lock) until
   * lock_timeout.
   */
  private async cancelWaits(): Promise<void> {
    if (this.waiting.size === 0) return;
    const client = new pg.Client(
      connectionOptions(this.options.databaseUrl, 'projection-standby-cancel'),
    );
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT pg_cancel_backend(pid) FROM unnest($1::int[]) pid', [
        [...this.waiting],
      ]);
    } catch (err) {
      this.options.logger?.warn(
        { err },
        'cannot cancel standby lock waits; they end at lock_timeout',
      );
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Keeps LISTEN domain_events open, reconnecting when the connection drops. */
  private async listen(): Promise<void> {
    while (!this.stopped) {
      const client = new pg.Client(
        connectionOptions(this.options.databaseUrl, 'projection-listener'),
      );
      this.listener = client;
      const lost = new Promise<void>((resolve) => {
        client.on('error', () => resolve());
        client.on('end', () => resolve());
      });
      client.on('notification', () => this.wakeAll());
      try {
        await client.connect();
        await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
        // Events may have arrived while we were not listening.
        this.wakeAll();
        await lost;
      } catch {
        // fall through to the retry below
      }
      await client.end().catch(() => undefined);
      if (!this.stopped) {
        this.options.logger?.warn('projection listener lost; polling until it reconnects');
        await this.sleep(1000);
      }
    }
  }

  private wakeAll(): void {
    for (const wake of this.wakers) wake(true);
    this.wakers.clear();
  }

  /** Resolves true on a notification or at stop, false after `ms`. */
  private sleep(ms: number): Promise<boolean> {
    if (this.stopped) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wakers = this.wakers;
      const done = (woken: boolean) => {
        clearTimeout(timer);
        wakers.delete(done);
        resolve(woken);
      };
      const timer = setTimeout(() => done(false), ms);
      wakers.add(done);
    });
  }

  /** Keeps one projection running: take the lock or stand by, and reconnect after errors. */
  private async supervise(projection: Projection): Promise<void> {
    const log = this.options.logger?.child({ projection: projection.name });
    let backoff = 500;
    while (!this.stopped) {
      const client = new pg.Client(
        connectionOptions(this.options.databaseUrl, `projection:${projection.name}`),
      );
      client.on('error', () => undefined);
      try {
        await client.connect();
        if (!(await this.takeLock(client, projection.name, log))) continue;
        this.states.set(projection.name, 'active');
        log?.info('projection active');
        await this.run(projection, client, log);
        backoff = 500;
      } catch (err) {
        if (!this.stopped) {
          this.states.set(projection.name, 'retrying');
          log?.warn({ err }, 'projection interrupted; retrying');
          await this.sleep(backoff);
          backoff = Math.min(backoff * 2, 10_000);
        }
      } finally {
        // Ending the session releases the advisory lock for a standby.
        await client.end().catch(() => undefined);
      }
    }
    this.states.set(projection.name, 'stopped');
  }

  /**
   * Takes the projection's lock, or stands by on this same connection until it can: no
   * reconnect per attempt, and the takeover comes as soon as the holder's session ends.
   * False when the runner stopped meanwhile.
   */
  private async takeLock(client: pg.Client, name: string, log?: Logger): Promise<boolean> {
    const { rows } = await client.query<{ locked: boolean }>(
      `SELECT pg_try_advisory_lock(${LOCK_SQL}) AS locked`,
      [name],
    );
    if (rows[0]?.locked) return true;
    if (this.states.get(name) !== 'standby') log?.info('projection on standby');
    this.states.set(name, 'standby');
    const waitMs = this.options.standbyRetryMs ?? 10_000;
    const { rows: me } = await client.query<{ pid: number }>(
      `SELECT pg_backend_pid() AS pid, set_config('lock_timeout', $1, false)`,
      [String(Math.max(1, Math.round(waitMs)))],
    );
    const pid = me[0]!.pid;
    this.waiting.add(pid);
    try {
      while (!this.stopped) {
        try {
          await client.query(`SELECT pg_advisory_lock(${LOCK_SQL})`, [name]);
          await client.query('SET lock_timeout = 0');
          return true;
        } catch (err) {
          // 55P03 lock_not_available: the wait timed out; wait again unless stopping.
          if ((err as { code?: unknown }).code !== '55P03') throw err;
        }
      }
      return false;
    } finally {
      this.waiting.delete(pid);
    }
  }

  private async run(projection: Projection, client: pg.Client, log?: Logger): Promise<void> {
    await client.query(
      `INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`,
      [projection.name],
    );
    let { checkpoint, status } = await loadCheckpoint(client, projection.name);
    let idle = MIN_IDLE_MS;
    let catchingUp = false;
    const poll = this.options.pollIntervalMs ?? 1000;

    while (!this.stopped) {
      // A failed projection waits, holding its lock, until an operator rebuilds it.
      if (status === 'failed') {
        this.states.set(projection.name, 'failed');
        this.positions.delete(projection.name);
        await this.sleep(poll * 2);
        ({ checkpoint, status } = await loadCheckpoint(client, projection.name));
        if (status !== 'failed') log?.info('projection resumed after a rebuild');
        continue;
      }
      this.states.set(projection.name, 'active');
      this.positions.set(projection.name, checkpoint.globalPosition);
      // Only a projection that is itself catching up waits; one at the head never does.
      if (catchingUp) await this.pace(projection.name, checkpoint.globalPosition);
      const batch = await this.reader.read(checkpoint);
      catchingUp = batch.events.length >= this.reader.batchSize;
      if (batch.events.length === 0) {
        // Right after a wake-up the new events may still sit behind an open transaction
        // (pg_snapshot_xmin): look again soon, then less and less often.
        const woken = await this.sleep(idle);
        idle = woken ? MIN_IDLE_MS : Math.min(idle * 2, poll);
        continue;
      }
      idle = MIN_IDLE_MS;
      try {
        await this.commit(client, projection, checkpoint, batch);
        checkpoint = batch.checkpoint;
        this.positions.set(projection.name, checkpoint.globalPosition);
      } catch (err) {
        if (err instanceof CheckpointMovedError) {
          log?.info('checkpoint moved (rebuilt?); reloading it');
          ({ checkpoint, status } = await loadCheckpoint(client, projection.name));
          continue;
        }
        if (!isEventFault(err) && !(await isFoldFault(client, err))) throw err;
        // Find the event at fault: apply the batch one event at a time up to it.
        ({ checkpoint, status } = await this.applyOneByOne(
          client,
          projection,
          checkpoint,
          batch,
          log,
        ));
      }
      // Our commit may have been what held other projections' reads back.
      if (batch.events.length < this.reader.batchSize) this.wakeAll();
    }
  }

  /**
   * While projections catch up together, one that runs far ahead of the slowest would push
   * batches out of the shared reader's cache, and the slowest would read them again. Wait a
   * little (bounded: a stuck projection never holds the others) for it to come closer.
   */
  private async pace(name: string, position: number): Promise<void> {
    const window = this.reader.batchSize * 3;
    const deadline = Date.now() + 2000;
    while (!this.stopped && Date.now() < deadline) {
      let slowest = position;
      for (const [other, p] of this.positions)
        if (other !== name && this.states.get(other) === 'active') slowest = Math.min(slowest, p);
      if (position - slowest <= window) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  private async commit(
    client: pg.Client,
    projection: Projection,
    from: Checkpoint,
    batch: LogBatch,
  ): Promise<void> {
    const applied = await applyBatch(client, projection, from, batch.events, batch.checkpoint);
    this.options.onBatch?.({
      projection: projection.name,
      checkpoint: batch.checkpoint,
      events: batch.events.length,
      applied,
      lastEventAt: batch.events[batch.events.length - 1]!.createdAt,
    });
  }

  private async applyOneByOne(
    client: pg.Client,
    projection: Projection,
    from: Checkpoint,
    batch: LogBatch,
    log?: Logger,
  ): Promise<{ checkpoint: Checkpoint; status: string }> {
    let checkpoint = from;
    for (const event of batch.events) {
      const to = { transactionId: event.transactionId, globalPosition: event.globalPosition };
      try {
        await this.commit(client, projection, checkpoint, { events: [event], checkpoint: to });
        checkpoint = to;
        this.attempts.delete(`${projection.name}\u0000${event.eventId}`);
      } catch (err) {
        if (err instanceof CheckpointMovedError) throw err;
        const error = err instanceof Error ? err : new Error(String(err));
        if (isEventFault(err)) {
          await markFailed(client, projection.name, checkpoint, event, error);
          log?.error({ err, event: event.globalPosition, type: event.type }, 'projection failed');
          return { checkpoint, status: 'failed' };
        }
        if (!(await isFoldFault(client, err))) throw err;
        const key = `${projection.name}\u0000${event.eventId}`;
        const attempts = (this.attempts.get(key) ?? 0) + 1;
        const limit = this.options.deadLetterAfter ?? 3;
        if (attempts < limit) {
          this.attempts.set(key, attempts);
          await recordRetry(
            client,
            projection.name,
            event,
            error,
            `attempt ${attempts} of ${limit}`,
          );
          log?.warn(
            { err, event: event.globalPosition, type: event.type, attempts },
            'projection cannot fold an event; retrying',
          );
          const backoff = (this.options.retryBackoffMs ?? 200) * 2 ** (attempts - 1);
          await new Promise((resolve) => setTimeout(resolve, Math.min(backoff, 2000)));
          return { checkpoint, status: 'running' };
        }
        this.attempts.delete(key);
        const aside: SetAside = { event, attempts, error: describe(event, error) };
        if (!(await setAsideAndMove(client, projection.name, checkpoint, aside)))
          throw new CheckpointMovedError(projection.name);
        checkpoint = to;
        this.options.onDeadLetter?.(projection.name, aside);
        log?.error(
          { err, event: event.globalPosition, type: event.type, attempts },
          'event set aside in projection_dead_letters; projection goes on',
        );
      }
    }
    return { checkpoint, status: 'running' };
  }
}

async function loadCheckpoint(
  client: pg.ClientBase,
  name: string,
): Promise<{ checkpoint: Checkpoint; status: string }> {
  const { rows } = await client.query<{
    transaction_id: string;
    global_position: string;
    status: string;
  }>(
    `SELECT transaction_id::text, global_position, status FROM projection_checkpoints WHERE name = $1`,
    [name],
  );
  const row = rows[0];
  if (!row) throw new Error(`no checkpoint row for projection ${name}`);
  return {
    checkpoint: { transactionId: row.transaction_id, globalPosition: Number(row.global_position) },
    status: row.status,
  };
}

/**
 * Applies the handled events of a batch and moves the checkpoint in one transaction. The
 * checkpoint moves first, as a compare-and-set on the previous position: should two runners
 * ever overlap, or a rebuild have swapped the read model, this one writes nothing. Taking the
 * checkpoint row lock first also orders locks the same way as a rebuild's swap (no deadlock).
 * Returns how many events were applied.
 */
export async function applyBatch(
  client: pg.ClientBase,
  projection: Projection,
  from: Checkpoint,
  events: readonly RecordedEvent[],
  to: Checkpoint,
): Promise<number> {
  const handled = handledEvents(projection, events);
  await client.query('BEGIN');
  try {
    const moved = await client.query(
      `UPDATE projection_checkpoints
       SET transaction_id = $2::xid8, global_position = $3,
           events_processed = events_processed + $4, last_event_at = $5, last_error = NULL,
           updated_at = now()
       WHERE name = $1 AND status = 'running'
         AND transaction_id = $6::xid8 AND global_position = $7`,
      [
        projection.name,
        to.transactionId,
        to.globalPosition,
        handled.length,
        events[events.length - 1]?.createdAt ?? null,
        from.transactionId,
        from.globalPosition,
      ],
    );
    if (moved.rowCount !== 1) throw new CheckpointMovedError(projection.name);
    if (handled.length > 0) await projection.apply({ client, table: liveTables() }, handled);
    await client.query('COMMIT');
    return handled.length;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * The events of a batch the projection handles. One that could not be decoded (a key missing,
 * a corrupt payload) is this projection's fault: it fails here, named, like any event it cannot
 * apply, while projections that do not handle it go on.
 */
export function handledEvents(
  projection: Projection,
  events: readonly RecordedEvent[],
): RecordedEvent[] {
  const handled = events.filter((e) => projection.handles.has(e.type));
  for (const event of handled) {
    const reason = undecodableReason(event);
    if (reason)
      throw new ProjectionApplyError(
        event,
        `cannot decode the event: ${reason.message}${codeOf(reason)}`,
      );
  }
  return handled;
}

const codeOf = (err: Error) => {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? ` [${code}]` : '';
};

const describe = (event: RecordedEvent, error: Error) =>
  `event ${event.globalPosition} (${event.type} ${event.streamType}-${event.streamId} v${event.version}): ${error.message}`;

/** Puts a failed attempt on record, so status shows why a running projection is stuck. */
async function recordRetry(
  client: pg.ClientBase,
  name: string,
  event: RecordedEvent,
  error: Error,
  attempt: string,
): Promise<void> {
  await client.query(
    `UPDATE projection_checkpoints SET last_error = $2, updated_at = now() WHERE name = $1`,
    [name, `${describe(event, error)} (${attempt}; set aside after the last)`],
  );
}

async function markFailed(
  client: pg.ClientBase,
  name: string,
  at: Checkpoint,
  event: RecordedEvent,
  error: Error,
): Promise<void> {
  await client.query(
    `UPDATE projection_checkpoints SET status = 'failed', last_error = $2, updated_at = now()
     WHERE name = $1 AND transaction_id = $3::xid8 AND global_position = $4`,
    [name, describe(event, error), at.transactionId, at.globalPosition],
  );
}
