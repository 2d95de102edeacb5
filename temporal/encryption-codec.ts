// A Temporal PayloadCodec that encrypts every payload with AES-256-GCM (the Temporal data key,
// keys/data-key-ring.ts), so workflow inputs, results and activity arguments — order data — are
// not stored in clear in Temporal. Each encrypted payload names its key, so keys rotate like the
// event store's.
import type { Payload, PayloadCodec } from '@temporalio/common';
import { aesDecrypt, aesEncrypt, type KeySource, staticKeySource } from '../eventstore/codec';
import { EncryptionKeyMissingError } from '../eventstore/errors';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const AAD = 'order-saga/temporal-payload';

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : '');

/** A payload as bytes: its metadata and data, base64 in a small JSON document. */
function serialize(payload: Payload): Buffer {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(payload.metadata ?? {}))
    if (v) metadata[k] = Buffer.from(v).toString('base64');
  return Buffer.from(
    JSON.stringify({
      m: metadata,
      d: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
    }),
  );
}

function deserialize(bytes: Buffer): Payload {
  const doc = JSON.parse(bytes.toString('utf8')) as { m: Record<string, string>; d: string };
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(doc.m))
    metadata[k] = new Uint8Array(Buffer.from(v, 'base64'));
  return { metadata, data: new Uint8Array(Buffer.from(doc.d, 'base64')) };
}

export type EncryptionCodecOptions =
  { keys: KeySource } | { encryptionKey: Buffer; decryptionKeys?: readonly Buffer[] };

export class EncryptionCodec implements PayloadCodec {
  private readonly keys: KeySource;

  constructor(options: EncryptionCodecOptions) {
    this.keys =
      'keys' in options
        ? options.keys
        : staticKeySource(options.encryptionKey, options.decryptionKeys);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const key = this.keys.current();
      return {
        metadata: { encoding: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(key.id) },
        data: aesEncrypt(key, serialize(payload), AAD),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      // Payloads written before encryption was turned on pass through unchanged.
      if (text(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) return payload;
      const keyId = text(payload.metadata?.[KEY_ID_METADATA]);
      const key = this.keys.byId(keyId);
      if (!key) throw new EncryptionKeyMissingError(keyId || null);
      return deserialize(aesDecrypt(key, Buffer.from(payload.data ?? new Uint8Array()), AAD));
    });
  }
}
