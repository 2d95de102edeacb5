// createApp(deps): the Express app, without listen(), so tests drive it with supertest.
// Reads come from the read models; order writes go through the Temporal client.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { OrderClient } from '../client/order-client';
import { findOrder, type ProjectionDb } from '../projections';
import { HttpProblem, problemHandler, sendProblem } from './problem';
import { createOrderSchema, idSchema } from './schemas';

export interface AppDeps {
  readDb: Kysely<ProjectionDb>;
  orders: OrderClient;
  apiToken?: string;
  logger?: Logger;
  /** Largest accepted request body. */
  bodyLimit?: string;
}

function requireToken(token: string | undefined) {
  const expected = token ? Buffer.from(`Bearer ${token}`) : undefined;
  return (req: Request, _res: Response, next: NextFunction) => {
    if (!expected) return next();
    const given = Buffer.from(req.get('authorization') ?? '');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return next();
    next(new HttpProblem(401, 'Unauthorized', 'a valid Authorization: Bearer token is required'));
  };
}

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', 'strong');
  app.use((req, res, next) => {
    const correlationId = req.get('x-correlation-id') ?? randomUUID();
    res.locals.correlationId = correlationId;
    res.set('x-correlation-id', correlationId);
    next();
  });
  app.use(
    express.json({ limit: deps.bodyLimit ?? '100kb', strict: true, type: 'application/json' }),
  );
  const writes = requireToken(deps.apiToken);

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.post('/orders', writes, async (req, res) => {
    const body = createOrderSchema.parse(req.body);
    const started = await deps.orders.start({
      ...body,
      correlationId: res.locals.correlationId as string,
    });
    res
      .status(202)
      .location(`/orders/${encodeURIComponent(started.orderId)}`)
      .json({ orderId: started.orderId, workflowId: started.workflowId, runId: started.runId });
  });

  app.get('/orders/:id', async (req, res) => {
    const id = idSchema.parse(req.params.id);
    const order = await findOrder(deps.readDb, id);
    if (!order) throw new HttpProblem(404, 'Not Found', `order ${id} not found`);
    res.json(order);
  });

  app.use((req, res) =>
    sendProblem(res, 404, 'Not Found', `no route for ${req.method} ${req.path}`),
  );
  app.use(problemHandler((err) => deps.logger?.error({ err }, 'unhandled error in request')));
  return app;
}
