// Errors of the event store, each with a stable code for the layers above.
import type { ExpectedVersion, StreamName } from './types';

export class ConcurrencyError extends Error {
  readonly code = 'CONCURRENCY_CONFLICT';
  constructor(
    readonly stream: StreamName,
    readonly expected: ExpectedVersion,
    readonly actual: number,
    detail?: string,
  ) {
    super(
      `Concurrency conflict on ${stream.type}-${stream.id}: expected version ${String(expected)}, actual ${actual}${detail ? ` (${detail})` : ''}`,
    );
    this.name = 'ConcurrencyError';
  }
}

/** An event id that already exists with other content: a bug in id derivation, never a retry. */
export class EventIdConflictError extends Error {
  readonly code = 'EVENT_ID_CONFLICT';
  constructor(readonly eventIds: string[]) {
    super(`Event ids already used for different events: ${eventIds.join(', ')}`);
    this.name = 'EventIdConflictError';
  }
}

/** An encrypted payload whose key is not configured (add it to EVENT_STORE_DECRYPTION_KEYS). */
export class EncryptionKeyMissingError extends Error {
  readonly code = 'ENCRYPTION_KEY_MISSING';
  constructor(readonly keyId: string | null) {
    super(
      `Payload is encrypted with key ${keyId ?? '(none)'}, which is not configured: add it to EVENT_STORE_DECRYPTION_KEYS`,
    );
    this.name = 'EncryptionKeyMissingError';
  }
}

/**
 * Every encryption this process reserved under its data key is spent and the next reservation
 * has not come back yet (keys/data-key-ring.ts). Retryable: the reservation is on its way.
 */
export class KeyUsageExhaustedError extends Error {
  readonly code = 'ENCRYPTION_KEY_EXHAUSTED';
  constructor(readonly purpose: string) {
    super(`The ${purpose} data key has no reserved uses left in this process; retry shortly`);
    this.name = 'KeyUsageExhaustedError';
  }
}

/** Authentication of an encrypted payload failed: it was altered, moved, or the key is wrong. */
export class PayloadIntegrityError extends Error {
  readonly code = 'PAYLOAD_TAMPERED';
  constructor(readonly keyId: string) {
    super(`Encrypted payload failed authentication (key ${keyId}): it was altered or moved`);
    this.name = 'PayloadIntegrityError';
  }
}

/** A compressed payload that inflates past the bound: a crafted or corrupted row. */
export class PayloadTooLargeError extends Error {
  readonly code = 'PAYLOAD_TOO_LARGE';
  constructor(readonly maxBytes: number) {
    super(
      `Compressed payload inflates beyond ${maxBytes} bytes: refused (corrupted or crafted row)`,
    );
    this.name = 'PayloadTooLargeError';
  }
}

/** An append that cannot be right whatever the stream holds: a caller's bug, never retried. */
export class InvalidAppendError extends Error {
  readonly code = 'INVALID_APPEND';
  constructor(
    readonly stream: StreamName,
    message: string,
  ) {
    super(`Invalid append to ${stream.type}-${stream.id}: ${message}`);
    this.name = 'InvalidAppendError';
  }
}

/**
 * An append inside a caller's transaction that is older than the transaction of the stream's
 * last event. The log is ordered by transaction id, so writing it would put this stream's new
 * event before its previous one. Retry the whole transaction (a new one is younger).
 */
export class TransactionOrderError extends Error {
  readonly code = 'TRANSACTION_ORDER_CONFLICT';
  readonly retryable = true;
  constructor(readonly stream: StreamName) {
    super(
      `Append to ${stream.type}-${stream.id} refused: this transaction started before the one that wrote the stream's last event, so its event would come first in the global log; retry the transaction`,
    );
    this.name = 'TransactionOrderError';
  }
}

/**
 * The database holds transaction ids ahead of the server's counter: it was restored from a
 * logical dump into another cluster. Old rows would stay hidden behind pg_snapshot_xmin and new
 * rows would sort before saved checkpoints.
 */
export class RestoredDatabaseError extends Error {
  readonly code = 'TRANSACTION_IDS_AHEAD';
  constructor(
    readonly storedMax: string,
    readonly serverNext: string,
  ) {
    super(
      `Refusing to start: stored transaction ids reach ${storedMax} but this server's next is ${serverNext} (a pg_dump restored into another cluster?); recover with \`npm run eventstore -- rebase-transaction-ids\`, then rebuild the projections it names`,
    );
    this.name = 'RestoredDatabaseError';
  }
}

/**
 * An append to a stream that retention archived or deleted (stream_tombstones): its id is
 * spent. Writing it again would start a second history under that id (a second OrderCreated
 * that the projections cannot fold); use a new id.
 */
export class StreamTombstonedError extends Error {
  readonly code = 'STREAM_TOMBSTONED';
  constructor(
    readonly stream: StreamName,
    /** true: its events are in the archive; false: they were deleted. */
    readonly archived: boolean,
  ) {
    super(
      `Append to ${stream.type}-${stream.id} refused: the stream was closed and ${archived ? 'archived' : 'deleted'} by retention, and its id cannot be used again`,
    );
    this.name = 'StreamTombstonedError';
  }
}
