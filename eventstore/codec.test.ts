import { randomBytes } from 'node:crypto';
import { createPayloadCodec, encryptionKeyId, jsonCodec } from './codec';
import { EncryptionKeyMissingError, PayloadIntegrityError } from './errors';

const big = { note: 'x'.repeat(5000), lines: [{ sku: 'SKU-MUG', qty: 2 }] };
const small = { orderId: 'o-1', customerId: 'alice' };

describe('payload codecs', () => {
  it('stores plain JSON by default', () => {
    const encoded = jsonCodec.encode(small, 'e1');
    expect(encoded).toEqual({ codec: 'json', json: small, bytes: null, keyId: null });
    expect(jsonCodec.decode(encoded, 'e1')).toEqual(small);
  });

  it('gzips only payloads above the threshold when compression is on', () => {
    const codec = createPayloadCodec({ compression: true, compressionThresholdBytes: 1024 });
    expect(codec.encode(small, 'e1').codec).toBe('json');
    const encoded = codec.encode(big, 'e2');
    expect(encoded.codec).toBe('gzip');
    expect(encoded.bytes!.length).toBeLessThan(JSON.stringify(big).length / 10);
    expect(codec.decode(encoded, 'e2')).toEqual(big);
  });

  it('encrypts with AES-256-GCM, names the key, and keeps no plaintext', () => {
    const key = randomBytes(32);
    const codec = createPayloadCodec({ encryptionKey: key });
    const encoded = codec.encode(small, 'e1');
    expect(encoded.codec).toBe('aes-256-gcm');
    expect(encoded.keyId).toBe(encryptionKeyId(key));
    expect(encoded.json).toBeNull();
    expect(encoded.bytes!.toString('latin1')).not.toContain('alice');
    expect(codec.decode(encoded, 'e1')).toEqual(small);
  });

  it('compresses then encrypts', () => {
    const codec = createPayloadCodec({ compression: true, encryptionKey: randomBytes(32) });
    const encoded = codec.encode(big, 'e1');
    expect(encoded.codec).toBe('gzip+aes-256-gcm');
    expect(encoded.bytes!.length).toBeLessThan(1000);
    expect(codec.decode(encoded, 'e1')).toEqual(big);
  });

  it('detects a flipped byte and a payload moved to another event', () => {
    const codec = createPayloadCodec({ encryptionKey: randomBytes(32) });
    const encoded = codec.encode(small, 'e1');
    const tampered = Buffer.from(encoded.bytes!);
    tampered[tampered.length - 1]! ^= 1;
    expect(() => codec.decode({ ...encoded, bytes: tampered }, 'e1')).toThrow(
      PayloadIntegrityError,
    );
    expect(() => codec.decode(encoded, 'e2')).toThrow(PayloadIntegrityError);
  });

  it('decrypts old payloads after a key rotation, and names a missing key', () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const before = createPayloadCodec({ encryptionKey: oldKey }).encode(small, 'e1');
    const rotated = createPayloadCodec({ encryptionKey: newKey, decryptionKeys: [oldKey] });
    expect(rotated.decode(before, 'e1')).toEqual(small);
    const after = rotated.encode(small, 'e2');
    expect(after.keyId).toBe(encryptionKeyId(newKey));
    expect(after.keyId).not.toBe(before.keyId);

    const forgotten = createPayloadCodec({ encryptionKey: newKey });
    expect(() => forgotten.decode(before, 'e1')).toThrow(EncryptionKeyMissingError);
    // A store without any key still reads its plain rows but refuses encrypted ones clearly.
    expect(() => jsonCodec.decode(after, 'e2')).toThrow(EncryptionKeyMissingError);
  });
});
