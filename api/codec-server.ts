// The Temporal UI's codec endpoint (POST /codec/decode and /codec/encode): the UI sends the
// payloads it shows through here, so an operator reads encrypted saga payloads in clear while
// Temporal itself only ever stores ciphertext. Point the UI at it with
// `temporal server start-dev --ui-codec-endpoint http://localhost:3000/codec` (or the UI's
// codec endpoint setting).
// It decrypts for whoever it answers, so it never answers everyone: with a token configured it
// needs one; without, it answers loopback clients only (docs/security.md).
import { BlockList } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';
import express, { type NextFunction, type Request, type Response, Router } from 'express';
import { z } from 'zod';
import type { Config } from '../config';
import { createDataConverter, type DataConverterSettings } from '../temporal/data-converter';
import { bearerAccepted } from './bearer';

export interface CodecRouterOptions {
  /** Applied in order on encode, in reverse on decode (like the data converter). */
  codecs: readonly PayloadCodec[];
  /** Origins allowed to call the endpoint from a browser (the Temporal UI's), e.g. http://localhost:8233. */
  allowedOrigins: readonly string[];
  /**
   * Any of them opens the endpoint, from anywhere (`Authorization: Bearer <token>`; the UI can
   * pass its access token). With none, only loopback clients are answered.
   */
  tokens?: readonly (string | undefined)[];
  bodyLimit?: string;
}

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
const bodySchema = z.object({
  payloads: z.array(
    z.object({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() }),
  ),
});
type JsonPayload = z.infer<typeof bodySchema>['payloads'][number];

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]),
  ),
  data: new Uint8Array(Buffer.from(p.data ?? '', 'base64')),
});

const toJson = (p: Payload) => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]),
  ),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** The TCP peer, not X-Forwarded-For: a header is whatever the client says. */
export function isLoopbackPeer(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (v4 !== undefined) return loopback.check(v4, 'ipv4');
  return loopback.check(address, address.includes(':') ? 'ipv6' : 'ipv4');
}

function problem(res: Response, status: number, title: string, detail: string) {
  res.status(status).type('application/problem+json').json({ status, title, detail });
}

export function createCodecRouter(options: CodecRouterOptions): Router {
  const router = Router();
  const allowed = new Set(options.allowedOrigins);
  const expected = (options.tokens ?? []).filter((t): t is string => t !== undefined && t !== '');

  const cors = (req: Request, res: Response, next: NextFunction) => {
    const origin = req.get('origin');
    if (origin && allowed.has(origin)) {
      res.set({
        'access-control-allow-origin': origin,
        'access-control-allow-credentials': 'true',
        'access-control-allow-methods': 'POST, OPTIONS',
        'access-control-allow-headers': 'content-type, x-namespace, authorization',
        'access-control-max-age': '600',
        vary: 'Origin',
      });
    }
    if (req.method === 'OPTIONS') {
      res.sendStatus(origin && allowed.has(origin) ? 204 : 403);
      return;
    }
    next();
  };

  const auth = (req: Request, res: Response, next: NextFunction) => {
    // A browser page from another origin (a drive-by POST, or DNS rebinding onto 127.0.0.1)
    // sends its Origin: refuse it even from loopback, since it is not the Temporal UI.
    const origin = req.get('origin');
    if (origin !== undefined && !allowed.has(origin)) {
      problem(res, 403, 'Forbidden', `origin ${origin} may not use the codec endpoint`);
      return;
    }
    if (expected.length === 0) {
      if (isLoopbackPeer(req.socket.remoteAddress)) return next();
      problem(
        res,
        403,
        'Forbidden',
        'the codec endpoint answers loopback clients only unless API_TOKEN or API_READ_TOKEN is set',
      );
      return;
    }
    if (bearerAccepted(req.get('authorization'), expected)) return next();
    res.set('www-authenticate', 'Bearer');
    problem(res, 401, 'Unauthorized', 'a valid Authorization: Bearer token is required');
  };

  const handler = (direction: 'encode' | 'decode') => async (req: Request, res: Response) => {
    const parsed = bodySchema.safeParse(req.body);
    if (!parsed.success) {
      problem(
        res,
        400,
        'Bad Request',
        'expected { "payloads": [{ "metadata": {...}, "data": "base64" }] }',
      );
      return;
    }
    let payloads = parsed.data.payloads.map(fromJson);
    try {
      const codecs = direction === 'encode' ? options.codecs : [...options.codecs].reverse();
      for (const codec of codecs) payloads = await codec[direction](payloads);
    } catch (err) {
      problem(res, 422, 'Unprocessable Payload', err instanceof Error ? err.message : String(err));
      return;
    }
    res.json({ payloads: payloads.map(toJson) });
  };

  const json = express.json({ limit: options.bodyLimit ?? '4mb', type: () => true });
  for (const path of ['/codec/encode', '/codec/decode']) router.options(path, cors);
  router.post('/codec/encode', cors, auth, json, handler('encode'));
  router.post('/codec/decode', cors, auth, json, handler('decode'));
  return router;
}

/**
 * The codec routes the app mounts when Temporal payloads are encrypted (none otherwise), for
 * the local dev server's UI and the docker-compose one: decoding is a read, so either API
 * token opens it, and without one it answers loopback clients only.
 */
export function codecRoutesFor(
  config: Pick<Config, 'temporal' | 'apiToken' | 'apiReadToken'> & {
    eventStore: DataConverterSettings;
  },
): [path: string, router: Router][] {
  const codecs = createDataConverter(config.eventStore).payloadCodecs ?? [];
  if (codecs.length === 0) return [];
  const allowedOrigins = [
    `http://localhost:${config.temporal.uiPort}`,
    `http://127.0.0.1:${config.temporal.uiPort}`,
    'http://localhost:8080',
  ];
  return [
    [
      '/',
      createCodecRouter({
        codecs,
        allowedOrigins,
        tokens: [config.apiToken, config.apiReadToken],
      }),
    ],
  ];
}
