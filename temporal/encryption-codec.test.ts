import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { createDataConverter } from './data-converter';
import { ENCRYPTED_ENCODING, EncryptionCodec, KEY_ID_METADATA } from './encryption-codec';

const order = {
  orderId: 'o-1',
  customerId: 'alice',
  items: [{ productId: 'SKU-MUG', quantity: 2 }],
};
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString('utf8');

describe('EncryptionCodec', () => {
  it('encrypts payloads (no plaintext, names the key) and decodes them back exactly', async () => {
    const codec = new EncryptionCodec({ encryptionKey: randomBytes(32) });
    const plain = defaultPayloadConverter.toPayload(order);
    const [encrypted] = await codec.encode([plain]);
    expect(text(encrypted!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(encrypted!.metadata![KEY_ID_METADATA])).toMatch(/^[0-9a-f]{16}$/);
    expect(text(encrypted!.data)).not.toContain('alice');
    const [decoded] = await codec.decode([encrypted!]);
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual(order);
    expect(text(decoded!.metadata!.encoding)).toBe('json/plain');
  });

  it('passes unencrypted payloads through, decrypts with old keys, refuses tampering and unknown keys', async () => {
    const oldKey = randomBytes(32);
    const old = new EncryptionCodec({ encryptionKey: oldKey });
    const rotated = new EncryptionCodec({
      encryptionKey: randomBytes(32),
      decryptionKeys: [oldKey],
    });
    const plain = defaultPayloadConverter.toPayload(order);
    expect(await rotated.decode([plain])).toEqual([plain]);

    const [byOld] = await old.encode([plain]);
    const [decoded] = await rotated.decode([byOld!]);
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual(order);

    const flipped = Buffer.from(byOld!.data!);
    flipped[20]! ^= 1; // a bit of the auth tag
    const tampered = { ...byOld!, data: flipped };
    await expect(rotated.decode([tampered])).rejects.toMatchObject({ code: 'PAYLOAD_TAMPERED' });
    const stranger = new EncryptionCodec({ encryptionKey: randomBytes(32) });
    await expect(stranger.decode([byOld!])).rejects.toMatchObject({
      code: 'ENCRYPTION_KEY_MISSING',
    });
  });

  it('the data converter encrypts only when a key is configured', () => {
    expect(createDataConverter({}).payloadCodecs).toBeUndefined();
    expect(createDataConverter({ encryptionKey: randomBytes(32) }).payloadCodecs).toHaveLength(1);
  });
});
