// The event store's public shapes.

export interface StreamName {
  /** aggregate_type */
  type: string;
  /** aggregate_id */
  id: string;
}

export type ExpectedVersion = number | 'no_stream' | 'stream_exists' | 'any';

export interface EventMetadata {
  correlationId?: string;
  causationId?: string;
  workflowId?: string;
  runId?: string;
  activityId?: string;
  [key: string]: unknown;
}

export interface NewEvent {
  /** Deterministic ids make retries idempotent; a random one is used when absent. */
  eventId?: string;
  type: string;
  data: unknown;
  /** Defaults to the newest schema version registered for the type (or 1). */
  schemaVersion?: number;
  metadata?: EventMetadata;
}

export interface RecordedEvent<Data = unknown> {
  globalPosition: number;
  /** xid8 as a decimal string; compared only in SQL. */
  transactionId: string;
  eventId: string;
  streamType: string;
  streamId: string;
  version: number;
  type: string;
  /** After upcasting: the schema version of `data`. */
  schemaVersion: number;
  data: Data;
  metadata: EventMetadata;
  createdAt: Date;
}

export interface AppendResult {
  /** The stream's version after the append (pass it as the next expected version). */
  nextExpectedVersion: number;
  positions: { eventId: string; version: number; globalPosition: number }[];
}

/** A position in the global log: everything at or before it has been read. */
export interface Checkpoint {
  transactionId: string;
  globalPosition: number;
}

export const START: Checkpoint = { transactionId: '0', globalPosition: 0 };
