// Builds the event store's options from plain configuration values, in one place for every
// composition root (worker, stack, CLI, tests), so they all read and write payloads alike.
import { createPayloadCodec, DEFAULT_COMPRESSION_THRESHOLD_BYTES, type KeySource } from './codec';
import type { EventStoreOptions } from './postgres-event-store';

export interface EventStoreSettings {
  compression: boolean;
  compressionThresholdBytes?: number;
  encryptionKey?: Buffer;
  decryptionKeys?: readonly Buffer[];
  /** The event store's data key (keys/data-key-ring.ts); takes the place of the keys above. */
  eventStoreKeys?: KeySource;
  snapshotInterval: number;
  snapshotIntervalByType?: Record<string, number>;
}

export function eventStoreOptionsFromConfig(
  settings: EventStoreSettings,
  extra: Pick<
    EventStoreOptions,
    'onAppended' | 'upcasters' | 'logger' | 'onSnapshotWriteFailed'
  > = {},
): EventStoreOptions {
  return {
    ...extra,
    codec: createPayloadCodec({
      compression: settings.compression,
      compressionThresholdBytes:
        settings.compressionThresholdBytes ?? DEFAULT_COMPRESSION_THRESHOLD_BYTES,
      keys: settings.eventStoreKeys,
      encryptionKey: settings.encryptionKey,
      decryptionKeys: settings.decryptionKeys,
    }),
    snapshots: {
      interval: settings.snapshotInterval,
      intervalByType: settings.snapshotIntervalByType ?? {},
    },
  };
}
