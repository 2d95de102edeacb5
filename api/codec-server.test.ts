// The Temporal UI codec endpoint, driven in-process with supertest.
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import express from 'express';
import request from 'supertest';
import { EncryptionCodec } from '../temporal/encryption-codec';
import { createCodecRouter } from './codec-server';

const UI = 'http://localhost:8233';
const codec = new EncryptionCodec({ encryptionKey: randomBytes(32) });
const app = (token?: string) =>
  express().use(createCodecRouter({ codecs: [codec], allowedOrigins: [UI], token }));

const toJson = (p: { metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null }) => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  ),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

describe('codec server', () => {
  it('encodes for and decodes from the Temporal UI, with CORS for its origin', async () => {
    const plain = toJson(defaultPayloadConverter.toPayload({ customerId: 'alice', cents: 4499 }));
    const encoded = await request(app())
      .post('/codec/encode')
      .set('origin', UI)
      .set('x-namespace', 'default')
      .send({ payloads: [plain] })
      .expect(200);
    expect(encoded.headers['access-control-allow-origin']).toBe(UI);
    const ciphertext = encoded.body.payloads[0];
    expect(Buffer.from(ciphertext.metadata.encoding, 'base64').toString()).toBe('binary/encrypted');
    expect(Buffer.from(ciphertext.data, 'base64').toString('latin1')).not.toContain('alice');

    const decoded = await request(app())
      .post('/codec/decode')
      .set('origin', UI)
      .send({ payloads: [ciphertext] })
      .expect(200);
    expect(decoded.body.payloads).toEqual([plain]);
  });

  it('answers the preflight for the UI origin only, and sends no CORS headers to others', async () => {
    const ok = await request(app())
      .options('/codec/decode')
      .set('origin', UI)
      .set('access-control-request-method', 'POST')
      .expect(204);
    expect(ok.headers['access-control-allow-headers']).toContain('x-namespace');
    await request(app()).options('/codec/decode').set('origin', 'http://evil.example').expect(403);
    const other = await request(app())
      .post('/codec/decode')
      .set('origin', 'http://evil.example')
      .send({ payloads: [] })
      .expect(200);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('rejects bad bodies, undecodable payloads and a missing token as problem+json', async () => {
    const bad = await request(app()).post('/codec/decode').send({ nope: 1 }).expect(400);
    expect(bad.headers['content-type']).toContain('application/problem+json');
    const foreign = (
      await new EncryptionCodec({ encryptionKey: randomBytes(32) }).encode([
        defaultPayloadConverter.toPayload(1),
      ])
    )[0]!;
    const undecodable = await request(app())
      .post('/codec/decode')
      .send({ payloads: [toJson(foreign)] })
      .expect(422);
    expect(undecodable.body.detail).toContain('not configured');
    await request(app('s3cret')).post('/codec/decode').send({ payloads: [] }).expect(401);
    await request(app('s3cret'))
      .post('/codec/decode')
      .set('authorization', 'Bearer s3cret')
      .send({ payloads: [] })
      .expect(200);
  });
});
