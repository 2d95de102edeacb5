// One place where a process opens its keys: with a master key configured, the data key ring
// and what is built on it (the event store's and Temporal's key sources, sealed personal
// fields); without one, nothing is encrypted and nothing is sealed.
import type { Kysely } from 'kysely';
import type { KeySource } from '../eventstore/codec';
import { DataKeyRing, type DataKeyRingOptions } from './data-key-ring';
import { localMasterKeys, type MasterKeys } from './master-key';
import { clearPersonalData, personalData, type PersonalData } from './personal-data';

export interface KeySettings {
  encryptionKey?: Buffer;
  decryptionKeys?: readonly Buffer[];
}

export interface OpenedKeys {
  ring: DataKeyRing | undefined;
  personal: PersonalData;
  /** The settings with the ring's key sources in place of the configured keys. */
  withKeys<S extends KeySettings>(
    settings: S,
  ): S & { eventStoreKeys?: KeySource; temporalKeys?: KeySource };
}

/**
 * `masters` takes the place of the configured key when the master key lives in a KMS; the
 * configured keys still read what they encrypted directly (rows of earlier releases) until
 * `npm run eventstore -- re-encrypt` has moved them under data keys.
 */
export async function openKeys(
  db: Kysely<any>,
  settings: KeySettings,
  options: DataKeyRingOptions & { masters?: MasterKeys } = {},
): Promise<OpenedKeys> {
  const masters =
    options.masters ??
    (settings.encryptionKey
      ? localMasterKeys(settings.encryptionKey, settings.decryptionKeys)
      : undefined);
  if (!masters) return { ring: undefined, personal: clearPersonalData, withKeys: (s) => s };
  const ring = await DataKeyRing.open(db, masters, {
    legacyKeys: settings.encryptionKey
      ? [settings.encryptionKey, ...(settings.decryptionKeys ?? [])]
      : [],
    ...options,
  });
  return {
    ring,
    personal: personalData(ring),
    withKeys: (s) => ({
      ...s,
      eventStoreKeys: ring.source('event-store'),
      temporalKeys: ring.source('temporal'),
    }),
  };
}
