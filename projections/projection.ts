// What a projection is: a name (its checkpoint), the read_models tables it owns, and how a
// batch of events changes them, inside the transaction that also moves its checkpoint.
import type pg from 'pg';
import type { RecordedEvent } from '../eventstore';

export interface BatchContext {
  /** The connection whose transaction holds the batch (and the checkpoint move). */
  client: pg.ClientBase;
  /**
   * The quoted, schema-qualified name of one of the projection's tables. A rebuild points
   * these at shadow tables, so the same code fills a read model and its replacement.
   */
  table: (name: string) => string;
}

export interface Projection {
  name: string;
  /** Tables in schema read_models that this projection owns (a rebuild replaces them). */
  tables: readonly string[];
  /** Event types it reacts to; other events only move its checkpoint. */
  handles: ReadonlySet<string>;
  /**
   * Folds a batch of events (only types in `handles`, in log order) into the read model:
   * each touched row is computed in memory and written once.
   */
  apply(ctx: BatchContext, events: readonly RecordedEvent[]): Promise<void>;
}

/** An event this projection cannot apply: the projection stops, with this on record. */
export class ProjectionApplyError extends Error {
  readonly code = 'PROJECTION_APPLY_FAILED';
  constructor(
    readonly event: RecordedEvent,
    message: string,
  ) {
    super(message);
    this.name = 'ProjectionApplyError';
  }
}

export function liveTables(): BatchContext['table'] {
  return (name) => `read_models.${quoteIdent(name)}`;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** created_at inside the payload, the time the domain decided the event (ms precision). */
export function eventTime(event: RecordedEvent): string {
  const at = (event.data as { created_at?: unknown } | null)?.created_at;
  return typeof at === 'string' ? at : event.createdAt.toISOString();
}

/** Sums money in cents, refusing to leave the safe integer range silently. */
export function addSafe(event: RecordedEvent, a: number, b: number): number {
  const sum = a + b;
  if (!Number.isSafeInteger(sum))
    throw new ProjectionApplyError(event, `amount ${a} + ${b} is not a safe integer`);
  return sum;
}
