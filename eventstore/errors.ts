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

/** Authentication of an encrypted payload failed: it was altered, moved, or the key is wrong. */
export class PayloadIntegrityError extends Error {
  readonly code = 'PAYLOAD_TAMPERED';
  constructor(readonly keyId: string) {
    super(`Encrypted payload failed authentication (key ${keyId}): it was altered or moved`);
    this.name = 'PayloadIntegrityError';
  }
}
