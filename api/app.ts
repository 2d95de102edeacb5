// createApp(deps): the Express app, without listen(), so tests drive it with supertest.
// Reads come from the read models (READ_DATABASE_URL); order writes go through the Temporal
// client, catalog writes through the event store. Every error leaves as problem+json.
import { randomUUID } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { type Kysely, sql } from 'kysely';
import { bearerAccepted } from './bearer';
import type { Logger } from 'pino';
import { v5 as uuidv5 } from 'uuid';
import { grantCredit, restockProduct } from '../catalog/catalog';
import type { ForgetCustomer } from '../keys/forget-customer';
import type { OrderClient } from '../client/order-client';
import type { EventStore } from '../eventstore';
import { withCorrelation } from '../logger';
import type { Metrics } from '../observability/metrics';
import { tagCorrelationId } from '../observability/trace-context';
import {
  findCredit,
  findInventory,
  findOrder,
  listOrderItems,
  listOrders,
  orderStats,
  type ProjectionDb,
  projectionStatus,
} from '../projections';
import { openApiDocument } from './openapi';
import { HttpProblem, problemHandler } from './problem';
import {
  cancelOrderSchema,
  confirmPaymentSchema,
  correlationIdSchema,
  createOrderSchema,
  noQuerySchema,
  grantCreditSchema,
  idempotencyKeySchema,
  idSchema,
  listOrdersQuerySchema,
  orderLineSchema,
  orderQuerySchema,
  pageQuerySchema,
  restockSchema,
  skipCompensationSchema,
} from './schemas';

export interface AppDeps {
  readDb: Kysely<ProjectionDb>;
  orders: OrderClient;
  /** The event store, for the catalog writes (restock, credit). */
  store: EventStore;
  /** Writes need it; reads accept it. */
  apiToken?: string;
  /** A read-only token: when either token is set, every read needs one of the two. */
  apiReadToken?: string;
  /** When set, /metrics needs it; otherwise /metrics is open. */
  metricsToken?: string;
  logger?: Logger;
  metrics?: Metrics;
  /** Largest accepted request body (default 100kb). */
  bodyLimit?: string;
  /**
   * Deadline of the Temporal calls one request makes (ms, default 10 000): a request answers
   * 504 rather than wait while a saga step retries or no worker polls.
   */
  temporalCallTimeoutMs?: number;
  /** Default wait of GET /orders/:id?minVersion=N (ms). */
  minVersionWaitMs?: number;
  /**
   * Extra routers, mounted before the read guard, so each guards itself; the codec server
   * (api/codec-server.ts) mounts here, e.g. `routers: [['/codec', codecRouter]]`.
   */
  routers?: readonly (readonly [path: string, router: Router])[];
  /** Destroys a customer's data key (keys/forget-customer.ts); unset without a master key. */
  forgetCustomer?: ForgetCustomer;
}

/** Idempotency-Key + the target make a deterministic event id: a retried write writes once. */
const IDEMPOTENCY_NAMESPACE = '6c0d1f7e-3a52-4c1b-9e0f-5d8a2b7c4e91';

/**
 * Lets a request through when its `Authorization: Bearer` matches one of `accepted`. With
 * `accepted` empty every request is refused: a server with a read token but no API_TOKEN
 * takes no writes, rather than taking them from anyone.
 */
function requireBearer(accepted: readonly string[], detail: string) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (bearerAccepted(req.get('authorization'), accepted)) return next();
    res.set('www-authenticate', 'Bearer');
    next(new HttpProblem(401, 'Unauthorized', detail));
  };
}

const open = (_req: Request, _res: Response, next: NextFunction) => next();

/** The three guards of the API, from its tokens (none set: everything open, the dev default). */
export function accessGuards(tokens: Pick<AppDeps, 'apiToken' | 'apiReadToken' | 'metricsToken'>) {
  const { apiToken, apiReadToken, metricsToken } = tokens;
  const guarded = apiToken !== undefined || apiReadToken !== undefined;
  const readTokens = [apiToken, apiReadToken].filter((t): t is string => t !== undefined);
  return {
    read: guarded
      ? requireBearer(readTokens, 'a valid Authorization: Bearer token is required')
      : open,
    write: !guarded
      ? open
      : requireBearer(
          apiToken === undefined ? [] : [apiToken],
          apiToken === undefined
            ? 'this server takes no writes: API_TOKEN is not set (API_READ_TOKEN allows reads only)'
            : 'writes need Authorization: Bearer <API_TOKEN>',
        ),
    metrics:
      metricsToken === undefined
        ? open
        : requireBearer(
            [metricsToken],
            'a valid Authorization: Bearer <METRICS_TOKEN> is required',
          ),
  };
}

/** A body that is there must be JSON (415 otherwise); an absent body reads as {}. */
function requireJsonBody(req: Request, _res: Response, next: NextFunction) {
  const hasBody =
    req.headers['transfer-encoding'] !== undefined ||
    Number(req.headers['content-length'] ?? 0) > 0;
  if (hasBody && !req.is(['application/json', 'application/*+json'])) {
    return next(
      new HttpProblem(415, 'Unsupported Media Type', 'request body must be application/json'),
    );
  }
  next();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', 'strong');
  app.set('query parser', 'simple');
  const log = deps.logger;

  app.use((req, res, next) => {
    const header = req.get('x-correlation-id');
    const given = header === undefined ? undefined : correlationIdSchema.safeParse(header);
    const correlationId = given?.success ? given.data : randomUUID();
    res.locals.correlationId = correlationId;
    tagCorrelationId(correlationId);
    res.set('x-correlation-id', correlationId);
    if (deps.metrics) {
      const started = process.hrtime.bigint();
      res.once('finish', () => {
        const route = (req.route as { path?: string } | undefined)?.path;
        deps.metrics!.httpDuration.observe(
          {
            method: req.method,
            route: route ? `${req.baseUrl}${route}` : 'unmatched',
            status: String(res.statusCode),
          },
          Number(process.hrtime.bigint() - started) / 1e9,
        );
      });
    }
    next();
  });

  const json = express.json({
    limit: deps.bodyLimit ?? '100kb',
    strict: true,
    type: ['application/json', 'application/*+json'],
    // Invalid UTF-8 would otherwise be decoded into replacement characters and accepted.
    verify: (_req, _res, buf) => {
      if (!isUtf8(buf))
        throw Object.assign(new Error('request body is not valid UTF-8'), { status: 400 });
    },
  });
  const guards = accessGuards(deps);
  /** Token first (no body is read without it), then the body. */
  const write = [guards.write, requireJsonBody, json];
  const body = (req: Request): unknown => req.body ?? {};
  const requestLog = (res: Response) =>
    log ? withCorrelation(log, res.locals.correlationId as string) : undefined;
  const eventIdFor = (req: Request, target: string): string | undefined => {
    const key = req.get('idempotency-key');
    if (key === undefined) return undefined;
    return uuidv5(`${target}\n${idempotencyKeySchema.parse(key)}`, IDEMPOTENCY_NAMESPACE);
  };

  // Operations.
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/ready', async (_req, res) => {
    try {
      await Promise.all([sql`SELECT 1`.execute(deps.readDb), deps.store.ping()]);
    } catch {
      throw new HttpProblem(503, 'Service Unavailable', 'the database is not reachable');
    }
    res.json({ status: 'ready' });
  });
  app.get('/metrics', guards.metrics, async (_req, res) => {
    if (!deps.metrics) throw new HttpProblem(404, 'Not Found', 'metrics are not enabled');
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  app.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });
  // The codec endpoint guards itself (api/codec-server.ts) and answers the UI's CORS preflight,
  // which carries no Authorization header: mounted before the read guard.
  for (const [path, router] of deps.routers ?? []) app.use(path, router);

  // Everything below is guarded: reads need a read or write token, writes add their own guard.
  // A global guard rather than one per route, so a route added later cannot be left open.
  app.use(guards.read);

  // Reads (read models).
  app.get('/orders', async (req, res) => {
    const q = listOrdersQuerySchema.parse(req.query);
    res.json(
      await listOrders(
        deps.readDb,
        { status: q.status, customerId: q.customerId },
        { limit: q.limit, offset: q.offset },
      ),
    );
  });

  app.get('/orders/:id', async (req, res) => {
    const id = idSchema.parse(req.params.id);
    const q = orderQuerySchema.parse(req.query);
    let order = await findOrder(deps.readDb, id);
    if (q.minVersion !== undefined && !(order && order.version >= q.minVersion)) {
      // Read-your-writes: poll the read model, briefly at first, until the deadline.
      const waitMs = q.waitMs ?? deps.minVersionWaitMs ?? 2000;
      const deadline = Date.now() + waitMs;
      for (let delay = 5; Date.now() < deadline; delay = Math.min(delay * 2, 100)) {
        await sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
        order = await findOrder(deps.readDb, id);
        if (order && order.version >= q.minVersion) break;
      }
      if (!order || order.version < q.minVersion) {
        res.set('retry-after', '1');
        throw new HttpProblem(
          409,
          'Conflict',
          `the read model of order ${id} has not reached version ${q.minVersion} after ${waitMs} ms ` +
            `(it is at ${order ? `version ${order.version}` : 'no version yet'}); retry later`,
          {
            code: 'READ_MODEL_BEHIND',
            minVersion: q.minVersion,
            currentVersion: order?.version ?? null,
          },
        );
      }
    }
    if (!order) throw new HttpProblem(404, 'Not Found', `order ${id} not found`);
    res.json(order);
  });

  app.get('/orders/:id/items', async (req, res) => {
    const id = idSchema.parse(req.params.id);
    const page = pageQuerySchema.parse(req.query);
    const items = await listOrderItems(deps.readDb, id, page);
    if (items.total === 0 && !(await findOrder(deps.readDb, id)))
      throw new HttpProblem(404, 'Not Found', `order ${id} not found`);
    res.json(items);
  });

  app.get('/customers/:customerId/orders', async (req, res) => {
    const customerId = idSchema.parse(req.params.customerId);
    const page = pageQuerySchema.parse(req.query);
    res.json(await listOrders(deps.readDb, { customerId }, page));
  });

  app.get('/stats/orders', async (req, res) => {
    noQuerySchema.parse(req.query);
    res.json(await orderStats(deps.readDb));
  });

  app.get('/products/:productId', async (req, res) => {
    const productId = idSchema.parse(req.params.productId);
    noQuerySchema.parse(req.query);
    const inventory = await findInventory(deps.readDb, productId);
    if (!inventory) throw new HttpProblem(404, 'Not Found', `product ${productId} not found`);
    res.json(inventory);
  });

  app.get('/customers/:customerId/credit', async (req, res) => {
    const customerId = idSchema.parse(req.params.customerId);
    noQuerySchema.parse(req.query);
    const credit = await findCredit(deps.readDb, customerId);
    if (!credit) throw new HttpProblem(404, 'Not Found', `customer ${customerId} not found`);
    res.json(credit);
  });

  app.get('/projections', async (req, res) => {
    noQuerySchema.parse(req.query);
    res.json({ items: await projectionStatus(deps.readDb) });
  });

  // Every Temporal call made while handling a request from here on shares one deadline (the
  // connection's async-local call context reaches the handlers through next()).
  const temporalCallTimeoutMs = deps.temporalCallTimeoutMs ?? 10_000;
  app.use((_req, res, next) => {
    void deps.orders.withDeadline(
      Date.now() + temporalCallTimeoutMs,
      () =>
        new Promise<void>((resolve) => {
          res.once('close', resolve);
          next();
        }),
    );
  });

  // Order writes (Temporal).
  app.post('/orders', ...write, async (req, res) => {
    const input = createOrderSchema.parse(body(req));
    const correlationId = res.locals.correlationId as string;
    // Without an orderId, the Idempotency-Key names the order: a retried request meets the
    // saga its first attempt started instead of starting a second one.
    const orderId = input.orderId ?? eventIdFor(req, 'order');
    const started = await deps.orders.start({ ...input, orderId, correlationId });
    requestLog(res)?.info(
      { orderId: started.orderId, workflowId: started.workflowId, started: started.started },
      started.started ? 'order saga started' : 'order saga already running',
    );
    res
      .status(202)
      .location(`/orders/${encodeURIComponent(started.orderId)}`)
      .json({ orderId: started.orderId, workflowId: started.workflowId, runId: started.runId });
  });

  // The saga's updates: Idempotency-Key makes the update id, so a retried request runs once
  // and gets the first request's answer.
  const updateIdFor = (req: Request, target: string) => ({ updateId: eventIdFor(req, target) });

  app.post('/orders/:id/cancel', ...write, async (req, res) => {
    const id = idSchema.parse(req.params.id);
    const { reason } = cancelOrderSchema.parse(body(req));
    const result = await deps.orders.cancel(id, reason, updateIdFor(req, `cancel:${id}`));
    requestLog(res)?.info({ orderId: id, reason, outcome: result.outcome }, 'order cancel');
    if (result.outcome === 'too late') {
      throw new HttpProblem(
        409,
        'Conflict',
        `order ${id} is past cancelling (saga ${result.status}): it is being or was confirmed`,
        { code: 'TOO_LATE_TO_CANCEL', outcome: result.outcome, status: result.status },
      );
    }
    res.json(result);
  });

  app.post('/orders/:id/confirm-payment', ...write, async (req, res) => {
    const id = idSchema.parse(req.params.id);
    const { amountCents } = confirmPaymentSchema.parse(body(req));
    const result = await deps.orders.confirmPayment(
      id,
      amountCents,
      updateIdFor(req, `confirm-payment:${id}`),
    );
    requestLog(res)?.info({ orderId: id, amountCents }, 'payment confirmed');
    res.json(result);
  });

  app.post('/orders/:id/compensations/skip', ...write, async (req, res) => {
    const id = idSchema.parse(req.params.id);
    const { compensation, reason } = skipCompensationSchema.parse(body(req));
    const result = await deps.orders.skipCompensation(
      id,
      compensation,
      reason,
      updateIdFor(req, `skip:${id}`),
    );
    requestLog(res)?.warn({ orderId: id, compensation, reason }, 'compensation skipped');
    res.json(result);
  });

  app.post('/orders/:id/items', ...write, async (req, res) => {
    const id = idSchema.parse(req.params.id);
    const line = orderLineSchema.parse(body(req));
    const result = await deps.orders.addItem(id, line, updateIdFor(req, `items:${id}`));
    requestLog(res)?.info({ orderId: id, productId: line.productId }, 'item added');
    res.json(result);
  });

  app.get('/orders/:id/saga', async (req, res) => {
    const id = idSchema.parse(req.params.id);
    noQuerySchema.parse(req.query);
    res.json(await deps.orders.state(id));
  });

  // Catalog writes (event store).
  app.post('/products/:productId/restock', ...write, async (req, res) => {
    const productId = idSchema.parse(req.params.productId);
    const { quantity } = restockSchema.parse(body(req));
    const result = await restockProduct(deps.store, productId, quantity, {
      eventId: eventIdFor(req, `restock:${productId}`),
      metadata: { correlationId: res.locals.correlationId as string },
    });
    requestLog(res)?.info({ productId, quantity, version: result.version }, 'product restocked');
    res.json({
      productId,
      onHand: result.onHand,
      reserved: result.reserved,
      available: result.onHand - result.reserved,
      version: result.version,
    });
  });

  app.post('/customers/:customerId/credit', ...write, async (req, res) => {
    const customerId = idSchema.parse(req.params.customerId);
    const { cents } = grantCreditSchema.parse(body(req));
    const result = await grantCredit(deps.store, customerId, cents, {
      eventId: eventIdFor(req, `credit:${customerId}`),
      metadata: { correlationId: res.locals.correlationId as string },
    });
    requestLog(res)?.info({ customerId, cents, version: result.version }, 'credit granted');
    res.json({
      customerId,
      availableCents: result.availableCents,
      spentCents: result.spentCents,
      version: result.version,
    });
  });

  // An erasure request: the customer's personal fields read as erased from here on.
  app.post('/admin/customers/:customerId/forget', ...write, async (req, res) => {
    const customerId = idSchema.parse(req.params.customerId);
    if (!deps.forgetCustomer)
      throw new HttpProblem(
        409,
        'Conflict',
        'no master key is configured (EVENT_STORE_ENCRYPTION_KEY): nothing is sealed per customer',
        { code: 'NO_MASTER_KEY' },
      );
    const forgotten = await deps.forgetCustomer(customerId);
    requestLog(res)?.info({ keysDestroyed: forgotten.keysDestroyed }, 'customer forgotten');
    res.json(forgotten);
  });

  app.use((req, _res, next) =>
    next(new HttpProblem(404, 'Not Found', `no route for ${req.method} ${req.path}`)),
  );
  app.use(problemHandler((err) => log?.error({ err }, 'unexpected error in request')));
  return app;
}
