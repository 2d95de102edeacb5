// The Temporal UI's codec endpoint (POST /codec/decode and /codec/encode): the UI sends the
// payloads it shows through here, so an operator reads encrypted saga payloads in clear while
// Temporal itself only ever stores ciphertext. Point the UI at it with
// `temporal server start-dev --ui-codec-endpoint http://localhost:3000/codec` (or the UI's
// codec endpoint setting).
import { timingSafeEqual } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import express, { type NextFunction, type Request, type Response, Router } from 'express';
import { z } from 'zod';
import type { Config } from '../config';
import { createDataConverter } from '../temporal/data-converter';

export interface CodecRouterOptions {
  /** Applied in order on encode, in reverse on decode (like the data converter). */
  codecs: readonly PayloadCodec[];
  /** Origins allowed to call the endpoint from a browser (the Temporal UI's), e.g. http://localhost:8233. */
  allowedOrigins: readonly string[];
  /** When set, requests need `Authorization: Bearer <token>` (the UI can pass its access token). */
  token?: string;
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

function problem(res: Response, status: number, title: string, detail: string) {
  res.status(status).type('application/problem+json').json({ status, title, detail });
}

export function createCodecRouter(options: CodecRouterOptions): Router {
  const router = Router();
  const allowed = new Set(options.allowedOrigins);
  const expected = options.token ? Buffer.from(`Bearer ${options.token}`) : undefined;

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
    if (!expected) return next();
    const given = Buffer.from(req.get('authorization') ?? '');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return next();
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
 * The codec routes the app mounts when Temporal payloads are encrypted (none otherwise), open
 * to the local dev server's UI and the docker-compose one.
 */
export function codecRoutesFor(
  config: Pick<Config, 'eventStore' | 'temporal' | 'apiToken'>,
): [path: string, router: Router][] {
  const codecs = createDataConverter(config.eventStore).payloadCodecs ?? [];
  if (codecs.length === 0) return [];
  const allowedOrigins = [`http://localhost:${config.temporal.uiPort}`, 'http://localhost:8080'];
  return [['/', createCodecRouter({ codecs, allowedOrigins, token: config.apiToken })]];
}
