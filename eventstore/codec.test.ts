import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import {
  aesEncrypt,
  createPayloadCodec,
  encryptionKeyId,
  eventAad,
  isUnderCurrentKey,
  jsonCodec,
  toEncryptionKey,
} from './codec';
import { EncryptionKeyMissingError, PayloadIntegrityError, PayloadTooLargeError } from './errors';
import { snapshotAad } from './snapshots';

const big = { note: 'x'.repeat(5000), lines: [{ sku: 'SKU-MUG', qty: 2 }] };
const small = { orderId: 'o-1', customerId: 'alice' };
const at = (eventId: string, streamId = 'o-1', eventType = 'OrderCreated', streamType = 'Order') =>
  eventAad({ streamType, streamId, eventType, eventId });

describe('payload codecs', () => {
  it('stores plain JSON by default', () => {
    const encoded = jsonCodec.encode(small, at('e1'));
    expect(encoded).toEqual({ codec: 'json', json: small, bytes: null, keyId: null });
    expect(jsonCodec.decode(encoded, at('e1'))).toEqual(small);
  });

  it('gzips only payloads above the threshold when compression is on', () => {
    const codec = createPayloadCodec({ compression: true, compressionThresholdBytes: 1024 });
    expect(codec.encode(small, at('e1')).codec).toBe('json');
    const encoded = codec.encode(big, at('e2'));
    expect(encoded.codec).toBe('gzip');
    expect(encoded.bytes!.length).toBeLessThan(JSON.stringify(big).length / 10);
    expect(codec.decode(encoded, at('e2'))).toEqual(big);
  });

  it('encrypts with AES-256-GCM in the v2 envelope, names the key, and keeps no plaintext', () => {
    const key = randomBytes(32);
    const codec = createPayloadCodec({ encryptionKey: key });
    const encoded = codec.encode(small, at('e1'));
    expect(encoded.codec).toBe('aes-256-gcm-v2');
    expect(encoded.keyId).toBe(encryptionKeyId(key));
    expect(codec.currentKeyId).toBe(encryptionKeyId(key));
    expect(encoded.json).toBeNull();
    expect(encoded.bytes!.toString('latin1')).not.toContain('alice');
    expect(codec.decode(encoded, at('e1'))).toEqual(small);
  });

  it('compresses then encrypts', () => {
    const codec = createPayloadCodec({ compression: true, encryptionKey: randomBytes(32) });
    const encoded = codec.encode(big, at('e1'));
    expect(encoded.codec).toBe('gzip+aes-256-gcm-v2');
    expect(encoded.bytes!.length).toBeLessThan(1000);
    expect(codec.decode(encoded, at('e1'))).toEqual(big);
  });

  it('detects a flipped byte, and a payload moved to another event, stream, stream type or event type', () => {
    const codec = createPayloadCodec({ encryptionKey: randomBytes(32) });
    const encoded = codec.encode(small, at('e1'));
    const tampered = Buffer.from(encoded.bytes!);
    tampered[tampered.length - 1]! ^= 1;
    expect(() => codec.decode({ ...encoded, bytes: tampered }, at('e1'))).toThrow(
      PayloadIntegrityError,
    );
    for (const elsewhere of [
      at('e2'),
      at('e1', 'o-2'),
      at('e1', 'o-1', 'OrderCancelled'),
      at('e1', 'o-1', 'OrderCreated', 'Inventory'),
    ])
      expect(() => codec.decode(encoded, elsewhere)).toThrow(PayloadIntegrityError);
    // The parts cannot shift into each other: 'a/b' + 'c' is not 'a' + 'b/c'.
    const split = codec.encode(small, at('e1', 'a', 'b/c'));
    expect(() => codec.decode(split, at('e1', 'a/b', 'c'))).toThrow(PayloadIntegrityError);
  });

  it('reads v1 envelopes (bound to the event id only) and never writes them', () => {
    const key = randomBytes(32);
    const codec = createPayloadCodec({ encryptionKey: key });
    const plain = Buffer.from(JSON.stringify(small));
    // What earlier releases stored: codec aes-256-gcm, associated data the event id.
    const v1 = {
      codec: 'aes-256-gcm',
      json: null,
      bytes: aesEncrypt(toEncryptionKey(key), plain, 'e1'),
      keyId: encryptionKeyId(key),
    };
    expect(codec.decode(v1, at('e1'))).toEqual(small);
    expect(() => codec.decode(v1, at('e2'))).toThrow(PayloadIntegrityError);
    const gz = {
      ...v1,
      codec: 'gzip+aes-256-gcm',
      bytes: aesEncrypt(toEncryptionKey(key), gzipSync(plain), 'e1'),
    };
    expect(codec.decode(gz, at('e1'))).toEqual(small);
    // A v1 row is not what the codec writes now: re-encryption picks it up.
    expect(isUnderCurrentKey(codec, v1)).toBe(false);
    expect(isUnderCurrentKey(codec, codec.encode(small, at('e1')))).toBe(true);
    // A v2 payload read as if it were v1 does not authenticate (no downgrade).
    const v2 = codec.encode(small, at('e1'));
    expect(() => codec.decode({ ...v2, codec: 'aes-256-gcm' }, at('e1'))).toThrow(
      PayloadIntegrityError,
    );
  });

  it('binds snapshots to their stream and version, and reads v1 snapshots', () => {
    const key = randomBytes(32);
    const codec = createPayloadCodec({ encryptionKey: key });
    const stream = { type: 'Inventory', id: 'SKU-MUG' };
    const encoded = codec.encode(small, snapshotAad(stream, 7));
    expect(codec.decode(encoded, snapshotAad(stream, 7))).toEqual(small);
    expect(() => codec.decode(encoded, snapshotAad(stream, 8))).toThrow(PayloadIntegrityError);
    expect(() => codec.decode(encoded, snapshotAad({ ...stream, id: 'SKU-TEE' }, 7))).toThrow(
      PayloadIntegrityError,
    );
    const v1 = {
      codec: 'aes-256-gcm',
      json: null,
      bytes: aesEncrypt(
        toEncryptionKey(key),
        Buffer.from(JSON.stringify(small)),
        'snapshot/Inventory/SKU-MUG/7',
      ),
      keyId: encryptionKeyId(key),
    };
    expect(codec.decode(v1, snapshotAad(stream, 7))).toEqual(small);
  });

  it('refuses a compressed payload that inflates past the bound, with a typed error', () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(100_000);
    const codec = createPayloadCodec({ compression: true });
    const payload = { codec: 'gzip', json: null, bytes: bomb, keyId: null };
    expect(() => codec.decode(payload, at('e1'))).toThrow(PayloadTooLargeError);
    expect(() => codec.decode(payload, at('e1'))).toThrow(/16777216 bytes/);
    const tight = createPayloadCodec({ compression: true, maxDecodedBytes: 1000 });
    const ok = tight.encode(big, at('e2'));
    expect(() => tight.decode(ok, at('e2'))).toThrow(
      expect.objectContaining({ code: 'PAYLOAD_TOO_LARGE', maxBytes: 1000 }),
    );
    // Encrypted too: the bound applies after decryption.
    const sealed = createPayloadCodec({
      maxDecodedBytes: 1000,
      encryptionKey: randomBytes(32),
      compression: true,
    });
    expect(() => sealed.decode(sealed.encode(big, at('e3')), at('e3'))).toThrow(
      PayloadTooLargeError,
    );
  });

  it('decrypts old payloads after a key rotation, and names a missing key', () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const before = createPayloadCodec({ encryptionKey: oldKey }).encode(small, at('e1'));
    const rotated = createPayloadCodec({ encryptionKey: newKey, decryptionKeys: [oldKey] });
    expect(rotated.decode(before, at('e1'))).toEqual(small);
    expect(isUnderCurrentKey(rotated, before)).toBe(false);
    const after = rotated.encode(small, at('e2'));
    expect(after.keyId).toBe(encryptionKeyId(newKey));
    expect(after.keyId).not.toBe(before.keyId);

    const forgotten = createPayloadCodec({ encryptionKey: newKey });
    expect(() => forgotten.decode(before, at('e1'))).toThrow(EncryptionKeyMissingError);
    // A store without any key still reads its plain rows but refuses encrypted ones clearly.
    expect(() => jsonCodec.decode(after, at('e2'))).toThrow(EncryptionKeyMissingError);
    expect(isUnderCurrentKey(jsonCodec, after)).toBe(false);
    expect(isUnderCurrentKey(jsonCodec, jsonCodec.encode(small, at('e2')))).toBe(true);
  });
});
