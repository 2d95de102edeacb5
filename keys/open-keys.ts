// One place where a process opens its keys: with a master key configured, the data key ring
// and what is built on it (the event store's and Temporal's key sources, sealed personal
// fields); without one, nothing is encrypted and nothing is sealed.
import type { Kysely } from 'kysely';
import { type KeySource, staticKeySource } from '../eventstore/codec';
import { DataKeyRing, type DataKeyRingOptions, type KeyPurpose } from './data-key-ring';
import { localMasterKeys, type MasterKeys } from './master-key';
import { clearPersonalData, personalData, type PersonalData } from './personal-data';

export interface KeySettings {
  encryptionKey?: Buffer;
  decryptionKeys?: readonly Buffer[];
  /** `read`: data keys decrypt, the master key still encrypts (config.ts EVENT_STORE_DATA_KEYS). */
  dataKeys?: 'write' | 'read';
}

/**
 * During the rollout from a release without data keys, processes of that release still run
 * and know only the master key: new payloads stay under it, while what data keys encrypted
 * (a process already past the rollout) is read.
 */
function writingUnderMaster(ring: DataKeyRing, purpose: KeyPurpose, master: Buffer): KeySource {
  const legacy = staticKeySource(master);
  const source = ring.source(purpose);
  return {
    currentKeyId: legacy.currentKeyId,
    current: () => legacy.current(),
    byId: (id) => legacy.byId(id) ?? source.byId(id),
  };
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
    // A release without references rejects a saga input that has one: none during the rollout.
    personal: personalData(ring, { references: settings.dataKeys !== 'read' }),
    withKeys: (s) => {
      const source = (purpose: KeyPurpose) =>
        settings.dataKeys === 'read' && settings.encryptionKey
          ? writingUnderMaster(ring, purpose, settings.encryptionKey)
          : ring.source(purpose);
      return { ...s, eventStoreKeys: source('event-store'), temporalKeys: source('temporal') };
    },
  };
}
