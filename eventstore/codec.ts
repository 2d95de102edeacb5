// How an event payload (or a snapshot) is stored: plain jsonb by default; gzip above a size
// threshold when compression is on; AES-256-GCM when a key is configured. Codecs compose as
// gzip-then-encrypt (ciphertext does not compress) and name themselves in the codec column:
// json | gzip | aes-256-gcm-v2 | gzip+aes-256-gcm-v2. Encrypted rows carry the id of their key,
// so a new key can take over while old rows still decrypt with the keys kept for reading.
//
// The encryption step names its envelope: `aes-256-gcm-v2` binds the ciphertext to the row's
// stream, event type and event id (a row moved to another stream fails authentication);
// `aes-256-gcm` (v1, bound to the event id alone) is what earlier releases wrote. v1 rows are
// still read, never written, and `npm run eventstore -- re-encrypt` rewrites them as v2.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { EncryptionKeyMissingError, PayloadIntegrityError, PayloadTooLargeError } from './errors';

export interface EncodedPayload {
  codec: string;
  json: unknown;
  bytes: Buffer | null;
  keyId: string | null;
}

/**
 * The associated data that binds a ciphertext to where it is stored, per envelope version:
 * `bound` (v2: stream, type and id) is what new payloads are sealed with; `legacy` (v1) is what
 * earlier releases sealed with, used only to read their rows.
 */
export interface PayloadAad {
  bound: string;
  legacy: string;
}

export interface PayloadCodec {
  /** The id of the key new payloads are encrypted with; null when they are not encrypted. */
  readonly currentKeyId: string | null;
  /**
   * A payload copied onto another row (another event, another stream, another type) fails
   * authentication instead of decrypting as the wrong event.
   */
  encode(data: unknown, aad: PayloadAad): EncodedPayload;
  decode(payload: EncodedPayload, aad: PayloadAad): unknown;
}

/** Where an event is stored: what its v2 envelope binds. */
export interface EventLocation {
  streamType: string;
  streamId: string;
  eventType: string;
  eventId: string;
}

/**
 * A JSON array keeps the parts apart: no stream id can pass for a type and an id. Built when
 * a codec first reads it: the plain JSON codec never does, and every append and every event
 * read would otherwise pay for the string.
 */
export const eventAad = (e: EventLocation): PayloadAad => ({
  get bound() {
    return JSON.stringify(['event/v2', e.streamType, e.streamId, e.eventType, e.eventId]);
  },
  legacy: e.eventId,
});

/** The codec of a payload stored as plain JSON in event_data, which every codec reads as is. */
export const PLAIN_JSON = 'json';
const GZIP = 'gzip';
/** v1 envelope: read only. */
export const AES_V1 = 'aes-256-gcm';
/** v2 envelope: what is written. */
export const AES_V2 = 'aes-256-gcm-v2';
const CIPHER = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * A compressed payload may not inflate beyond this (a crafted row would otherwise exhaust the
 * reader's memory). Events are JSON documents well below it.
 */
export const DEFAULT_MAX_DECODED_BYTES = 16 * 1024 * 1024;

/** Payloads smaller than this stay uncompressed: gzip's header costs more than it saves. */
export const DEFAULT_COMPRESSION_THRESHOLD_BYTES = 1024;

export interface EncryptionKey {
  id: string;
  key: Buffer;
}

/** A key's id is derived from the key itself, so an old key named in config always matches its rows. */
export function encryptionKeyId(key: Buffer): string {
  return createHash('sha256').update('order-saga/key-id/').update(key).digest('hex').slice(0, 16);
}

export function toEncryptionKey(key: Buffer): EncryptionKey {
  if (key.length !== 32) throw new RangeError('an AES-256 key has 32 bytes');
  return { id: encryptionKeyId(key), key };
}

/**
 * Where a codec takes its keys: the data key new payloads are sealed with (which may change
 * while the process runs, when the key reaches its usage bound) and every key by id for reading.
 * keys/data-key-ring.ts serves wrapped data keys from Postgres; staticKeySource serves keys
 * given as bytes.
 */
export interface KeySource {
  /** The id of the key current() returns now. */
  readonly currentKeyId: string;
  /** The key to encrypt one payload with; each call counts one use of it. */
  current(): EncryptionKey;
  byId(id: string): EncryptionKey | undefined;
}

/** Keys given as bytes: the first encrypts, every one decrypts. */
export function staticKeySource(current: Buffer, old: readonly Buffer[] = []): KeySource {
  const key = toEncryptionKey(current);
  const ring = keyRing(current, old);
  return { currentKeyId: key.id, current: () => key, byId: (id) => ring.get(id) };
}

export interface CodecOptions {
  compression?: boolean;
  compressionThresholdBytes?: number;
  /** Where the encryption keys come from; unset (and no encryptionKey) means no encryption. */
  keys?: KeySource;
  /** Shorthand for keys: staticKeySource(encryptionKey, decryptionKeys). */
  encryptionKey?: Buffer;
  /** Former keys, kept to decrypt what they encrypted. */
  decryptionKeys?: readonly Buffer[];
  /** The bound on a decompressed payload (DEFAULT_MAX_DECODED_BYTES). */
  maxDecodedBytes?: number;
}

export function aesEncrypt(key: EncryptionKey, plain: Buffer, aad: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(CIPHER, key.key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

export function aesDecrypt(key: EncryptionKey, sealed: Buffer, aad: string): Buffer {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new PayloadIntegrityError(key.id);
  const decipher = createDecipheriv(CIPHER, key.key, sealed.subarray(0, IV_BYTES), {
    authTagLength: TAG_BYTES,
  });
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([
      decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    throw new PayloadIntegrityError(key.id);
  }
}

/** Keys by id: the current one first, then the old ones. */
export function keyRing(current: Buffer | undefined, old: readonly Buffer[] = []) {
  const ring = new Map<string, EncryptionKey>();
  for (const key of [...(current ? [current] : []), ...old]) {
    const k = toEncryptionKey(key);
    ring.set(k.id, k);
  }
  return ring;
}

/** gunzip with an output bound: past it, a typed error instead of an allocation without end. */
export function boundedGunzip(body: Buffer, maxBytes: number): Buffer {
  try {
    return gunzipSync(body, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw new PayloadTooLargeError(maxBytes);
    throw err;
  }
}

export function createPayloadCodec(options: CodecOptions = {}): PayloadCodec {
  const threshold = options.compressionThresholdBytes ?? DEFAULT_COMPRESSION_THRESHOLD_BYTES;
  const maxDecoded = options.maxDecodedBytes ?? DEFAULT_MAX_DECODED_BYTES;
  const keys =
    options.keys ??
    (options.encryptionKey
      ? staticKeySource(options.encryptionKey, options.decryptionKeys)
      : undefined);

  return {
    get currentKeyId() {
      return keys?.currentKeyId ?? null;
    },

    encode(data, aad) {
      if (!options.compression && !keys)
        return { codec: PLAIN_JSON, json: data, bytes: null, keyId: null };
      const text = Buffer.from(JSON.stringify(data) ?? 'null', 'utf8');
      const compress = options.compression === true && text.length >= threshold;
      if (!compress && !keys) return { codec: PLAIN_JSON, json: data, bytes: null, keyId: null };
      const body = compress ? gzipSync(text) : text;
      if (!keys) return { codec: GZIP, json: null, bytes: body, keyId: null };
      const current = keys.current();
      return {
        codec: compress ? `${GZIP}+${AES_V2}` : AES_V2,
        json: null,
        bytes: aesEncrypt(current, body, aad.bound),
        keyId: current.id,
      };
    },

    decode(payload, aad) {
      if (payload.codec === PLAIN_JSON) return payload.json;
      const steps = payload.codec.split('+');
      if (!payload.bytes || steps.some((s) => s !== GZIP && s !== AES_V1 && s !== AES_V2)) {
        throw new Error(`Unknown payload codec "${payload.codec}"`);
      }
      let body = payload.bytes;
      for (const step of [...steps].reverse()) {
        if (step === GZIP) {
          body = boundedGunzip(body, maxDecoded);
          continue;
        }
        const key = payload.keyId ? keys?.byId(payload.keyId) : undefined;
        if (!key) throw new EncryptionKeyMissingError(payload.keyId);
        body = aesDecrypt(key, body, step === AES_V2 ? aad.bound : aad.legacy);
      }
      return JSON.parse(body.toString('utf8'));
    },
  };
}

/** True when a stored payload is what the codec would write now: under its key, in the v2 envelope. */
export function isUnderCurrentKey(
  codec: PayloadCodec,
  payload: Pick<EncodedPayload, 'codec' | 'keyId'>,
) {
  if (codec.currentKeyId === null) return payload.keyId === null;
  return payload.keyId === codec.currentKeyId && payload.codec.endsWith(AES_V2);
}

/** Plain JSON: what the store uses without compression or a key. */
export const jsonCodec: PayloadCodec = createPayloadCodec();
