// How an event payload (or a snapshot) is stored: plain jsonb by default; gzip above a size
// threshold when compression is on; AES-256-GCM when a key is configured. Codecs compose as
// gzip-then-encrypt (ciphertext does not compress) and name themselves in the codec column:
// json | gzip | aes-256-gcm | gzip+aes-256-gcm. Encrypted rows carry the id of their key, so a
// new key can take over while old rows still decrypt with the keys kept for reading.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { EncryptionKeyMissingError, PayloadIntegrityError } from './errors';

export interface EncodedPayload {
  codec: string;
  json: unknown;
  bytes: Buffer | null;
  keyId: string | null;
}

export interface PayloadCodec {
  /**
   * `aad` binds the ciphertext to where it is stored (the event id): a payload copied onto
   * another row fails authentication instead of decrypting as the wrong event.
   */
  encode(data: unknown, aad: string): EncodedPayload;
  decode(payload: EncodedPayload, aad: string): unknown;
}

const GZIP = 'gzip';
const AES = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

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

export interface CodecOptions {
  compression?: boolean;
  compressionThresholdBytes?: number;
  /** The key new payloads are encrypted with; unset means no encryption. */
  encryptionKey?: Buffer;
  /** Former keys, kept to decrypt what they encrypted. */
  decryptionKeys?: readonly Buffer[];
}

export function aesEncrypt(key: EncryptionKey, plain: Buffer, aad: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(AES, key.key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

export function aesDecrypt(key: EncryptionKey, sealed: Buffer, aad: string): Buffer {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new PayloadIntegrityError(key.id);
  const decipher = createDecipheriv(AES, key.key, sealed.subarray(0, IV_BYTES));
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

export function createPayloadCodec(options: CodecOptions = {}): PayloadCodec {
  const threshold = options.compressionThresholdBytes ?? DEFAULT_COMPRESSION_THRESHOLD_BYTES;
  const current = options.encryptionKey ? toEncryptionKey(options.encryptionKey) : undefined;
  const keys = keyRing(options.encryptionKey, options.decryptionKeys);

  return {
    encode(data, aad) {
      if (!options.compression && !current)
        return { codec: 'json', json: data, bytes: null, keyId: null };
      const text = Buffer.from(JSON.stringify(data) ?? 'null', 'utf8');
      const compress = options.compression === true && text.length >= threshold;
      if (!compress && !current) return { codec: 'json', json: data, bytes: null, keyId: null };
      const body = compress ? gzipSync(text) : text;
      if (!current) return { codec: GZIP, json: null, bytes: body, keyId: null };
      return {
        codec: compress ? `${GZIP}+${AES}` : AES,
        json: null,
        bytes: aesEncrypt(current, body, aad),
        keyId: current.id,
      };
    },

    decode(payload, aad) {
      if (payload.codec === 'json') return payload.json;
      const steps = payload.codec.split('+');
      if (!payload.bytes || steps.some((s) => s !== GZIP && s !== AES)) {
        throw new Error(`Unknown payload codec "${payload.codec}"`);
      }
      let body = payload.bytes;
      for (const step of [...steps].reverse()) {
        if (step === AES) {
          const key = payload.keyId ? keys.get(payload.keyId) : undefined;
          if (!key) throw new EncryptionKeyMissingError(payload.keyId);
          body = aesDecrypt(key, body, aad);
        } else {
          body = gunzipSync(body);
        }
      }
      return JSON.parse(body.toString('utf8'));
    },
  };
}

/** Plain JSON: what the store uses without compression or a key. */
export const jsonCodec: PayloadCodec = createPayloadCodec();
