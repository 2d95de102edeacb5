// Errors of the event store, each with a stable code for the layers above.
import type { ExpectedVersion, StreamName } from './types';

export class ConcurrencyError extends Error {
  readonly code = 'CONCURRENCY_CONFLICT';
  constructor(
    readonly stream: StreamName,
    readonly expected: ExpectedVersion,
    readonly actual: number,
  ) {
    super(
      `Concurrency conflict on ${stream.type}-${stream.id}: expected version ${String(expected)}, actual ${actual}`,
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
