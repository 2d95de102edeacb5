// The Temporal UI codec endpoint, driven with supertest over loopback and, for the peer
// check, over the machine's own non-loopback address.
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { defaultPayloadConverter } from '@temporalio/common';
import express from 'express';
import request from 'supertest';
import { loadConfig } from '../config';
import { EncryptionCodec } from '../temporal/encryption-codec';
import { codecRoutesFor, createCodecRouter, isLoopbackPeer } from './codec-server';

const UI = 'http://localhost:8233';
const codec = new EncryptionCodec({ encryptionKey: randomBytes(32) });
const app = (token?: string) =>
  express().use(createCodecRouter({ codecs: [codec], allowedOrigins: [UI], tokens: [token] }));

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
    // A page from another origin is refused outright, even over loopback (a drive-by POST or
    // DNS rebinding onto 127.0.0.1 would otherwise get plaintext).
    const other = await request(app())
      .post('/codec/decode')
      .set('origin', 'http://evil.example')
      .set('content-type', 'text/plain')
      .send(JSON.stringify({ payloads: [] }))
      .expect(403);
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

/** The machine's first non-loopback IPv4 address: a request to it arrives from a non-loopback peer. */
function externalAddress(): string {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  throw new Error('this test needs a non-loopback IPv4 interface');
}

async function listenEverywhere(router: express.Router): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = express()
      .use(router)
      .listen(0, '0.0.0.0', () => resolve(s))
      .once('error', reject);
  });
}

describe('codec server access', () => {
  const key = randomBytes(32).toString('base64');
  const secret = async () =>
    toJson(
      (
        await new EncryptionCodec({ encryptionKey: Buffer.from(key, 'base64') }).encode([
          defaultPayloadConverter.toPayload({ card: '4111 1111 1111 1111' }),
        ])
      )[0]!,
    );
  const routerFor = (env: Record<string, string>) => {
    const routes = codecRoutesFor(loadConfig({ EVENT_STORE_ENCRYPTION_KEY: key, ...env }));
    expect(routes).toHaveLength(1);
    return routes[0]![1];
  };

  it('without a token, decrypts for loopback clients only', async () => {
    const server = await listenEverywhere(routerFor({}));
    try {
      const { port } = server.address() as AddressInfo;
      const body = { payloads: [await secret()] };
      const local = await request(`http://127.0.0.1:${port}`)
        .post('/codec/decode')
        .send(body)
        .expect(200);
      expect(Buffer.from(local.body.payloads[0].data, 'base64').toString()).toContain('4111');
      const remote = await request(`http://${externalAddress()}:${port}`)
        .post('/codec/decode')
        .send(body)
        .expect(403);
      expect(remote.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(JSON.stringify(remote.body)).not.toContain('4111');
      await request(`http://${externalAddress()}:${port}`)
        .post('/codec/encode')
        .send(body)
        .expect(403);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('with API_TOKEN or API_READ_TOKEN, needs one of them from everywhere, loopback included', async () => {
    const server = await listenEverywhere(
      routerFor({ API_TOKEN: 'w-tok', API_READ_TOKEN: 'r-tok' }),
    );
    try {
      const { port } = server.address() as AddressInfo;
      const body = { payloads: [await secret()] };
      for (const host of ['127.0.0.1', externalAddress()]) {
        const base = `http://${host}:${port}`;
        const refused = await request(base).post('/codec/decode').send(body).expect(401);
        expect(JSON.stringify(refused.body)).not.toContain('4111');
        await request(base)
          .post('/codec/decode')
          .set('authorization', 'Bearer nope')
          .send(body)
          .expect(401);
        for (const token of ['w-tok', 'r-tok'])
          await request(base)
            .post('/codec/decode')
            .set('authorization', `Bearer ${token}`)
            .send(body)
            .expect(200);
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('mounts nothing when payloads are not encrypted', () => {
    expect(codecRoutesFor(loadConfig({ API_TOKEN: 'w-tok' }))).toEqual([]);
  });

  it('treats 127/8, ::1 and IPv4-mapped loopback as loopback, and nothing else', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'])
      expect(isLoopbackPeer(a)).toBe(true);
    for (const a of [undefined, '10.0.0.1', '192.0.2.2', '::ffff:10.0.0.1', 'fd00::2', '::'])
      expect(isLoopbackPeer(a)).toBe(false);
  });
});
