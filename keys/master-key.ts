// The master key wraps data keys (keys/data-key-ring.ts) and encrypts nothing else. It comes
// from EVENT_STORE_ENCRYPTION_KEY (or the file EVENT_STORE_ENCRYPTION_KEY_FILE names) as a
// local AES-256 key, or from a key management service through the MasterKey interface, so the
// key that protects every other key can live where a database backup never reaches.
import { aesDecrypt, aesEncrypt, toEncryptionKey } from '../eventstore/codec';

export interface MasterKey {
  /** Names the key in each data key's row, so a data key finds the master key that wraps it. */
  readonly id: string;
  /** Seals a data key; `context` is bound to the result (the data key's id and purpose). */
  wrap(dataKey: Buffer, context: string): Promise<Buffer>;
  unwrap(wrapped: Buffer, context: string): Promise<Buffer>;
}

/**
 * The master key and the former ones that may still wrap data keys (EVENT_STORE_DECRYPTION_KEYS)
 * until `npm run eventstore -- rewrap-keys` has moved every data key under the current one.
 */
export interface MasterKeys {
  current: MasterKey;
  former: readonly MasterKey[];
}

/**
 * A master key held by this process, wrapping with AES-256-GCM. A KMS implementation calls the
 * service's encrypt and decrypt (AWS KMS Encrypt/Decrypt with `context` as the encryption
 * context, GCP KMS with it as additional authenticated data) and keeps the key id stable.
 */
export function localMasterKey(key: Buffer): MasterKey {
  const k = toEncryptionKey(key);
  return {
    id: k.id,
    wrap: (dataKey, context) => Promise.resolve(aesEncrypt(k, dataKey, context)),
    unwrap: (wrapped, context) => Promise.resolve(aesDecrypt(k, wrapped, context)),
  };
}

export function localMasterKeys(current: Buffer, former: readonly Buffer[] = []): MasterKeys {
  return { current: localMasterKey(current), former: former.map(localMasterKey) };
}
