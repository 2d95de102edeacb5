// The live operations page (GET /ops): orders by status, the latest orders with links to their
// sagas, stock, projections, and the sagas parked in compensation_failed with a retry button.
// Server-rendered HTML swapped in by htmx; a Server-Sent Events stream pushes a new snapshot
// when the change feed (LISTEN domain_events) says the log moved and the projections have
// applied it, and on a timer for what lives in Temporal visibility.
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { parse as parseCookie } from 'cookie';
import express, { type Request, type Response, type Router } from 'express';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { OrderClient } from '../../client/order-client';
import type { ChangeFeed } from '../../monitors/change-feed';
import {
  type CompensationFailedSaga,
  listCompensationFailed,
} from '../../monitors/compensation-failed';
import {
  listDeadLetters,
  listOrders,
  orderStats,
  type ProjectionDb,
  projectionStatus,
} from '../../projections';
import { bearerAccepted, tokenAccepted } from '../bearer';
import { idSchema } from '../schemas';
import { type Html, html } from './html';
import { type OpsSnapshot, renderPage, renderSnapshot, type StockRow } from './ops-view';

export interface OpsPageDeps {
  readDb: Kysely<ProjectionDb>;
  orders: OrderClient;
  /** Temporal client for visibility (compensation_failed sagas). */
  temporal: Client;
  /** Narrows the visibility query to this deployment's sagas. */
  taskQueue?: string;
  /** Wakes the page when the log moves (createChangeFeed). */
  changes: ChangeFeed;
  /** Builds the Temporal UI link of a saga. */
  sagaUrl?: (workflowId: string) => string;
  /** Writes (retryCompensation) need `Authorization: Bearer <apiToken>` when set. */
  apiToken?: string;
  /**
   * With either token set, the page and its event stream need one of them, like every read.
   * A browser cannot send a header on an EventSource, so `/ops?token=<token>` once stores it
   * in an HttpOnly, SameSite=Strict cookie that the page and its stream then carry.
   */
  apiReadToken?: string;
  logger?: Logger;
  /** How often Temporal visibility is read again (default 5 s). */
  visibilityRefreshMs?: number;
  /** SSE keep-alive comment interval (default 15 s). */
  heartbeatMs?: number;
  latestOrders?: number;
}

export interface OpsPage {
  router: Router;
  close(): void;
}

const ASSETS: Record<string, { file: string; type: string }> = {
  'htmx.min.js': { file: require.resolve('htmx.org/dist/htmx.min.js'), type: 'text/javascript' },
  'sse.min.js': {
    file: require.resolve('htmx-ext-sse/dist/sse.min.js'),
    type: 'text/javascript',
  },
  'ops.js': { file: path.join(__dirname, 'assets', 'ops.js'), type: 'text/javascript' },
  'ops.css': { file: path.join(__dirname, 'assets', 'ops.css'), type: 'text/css' },
};

/**
 * The pauses between looks at the projections while a snapshot waits for them to apply what
 * woke it (1.5 s in all). Short first, since a projection at the head applies a commit within
 * milliseconds; then growing: a projection stalled behind an open transaction costs seven
 * status queries per wake-up, not sixty.
 */
export const CATCH_UP_PAUSES_MS = [10, 25, 50, 100, 190, 325, 800] as const;

/** The shortest time between the starts of two snapshots (wake-ups in between coalesce). */
export const MIN_REFRESH_MS = 250;

/** How long a wake-up that comes `sinceLastMs` after the last snapshot started waits. */
export function refreshDelay(sinceLastMs: number, minRefreshMs = MIN_REFRESH_MS): number {
  return Math.max(0, Math.min(minRefreshMs, minRefreshMs - sinceLastMs));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const TOKEN_COOKIE = 'ops_token';

/** The read guard of the page: a bearer header or the page's cookie, set from `?token=`. */
function readGuard(tokens: readonly string[]) {
  return (req: Request, res: Response, next: () => void) => {
    if (tokens.length === 0) return next();
    const cookie = parseCookie(req.get('cookie') ?? '')[TOKEN_COOKIE];
    if (bearerAccepted(req.get('authorization'), tokens) || tokenAccepted(cookie, tokens)) {
      return next();
    }
    const query = req.query.token;
    if (req.method === 'GET' && typeof query === 'string' && tokenAccepted(query, tokens)) {
      res.cookie(TOKEN_COOKIE, query, {
        httpOnly: true,
        sameSite: 'strict',
        secure: req.secure,
        path: req.baseUrl || '/',
      });
      // The token leaves the address bar (and the history) at once.
      return res.redirect(303, req.baseUrl + req.path);
    }
    res
      .status(401)
      .set('www-authenticate', 'Bearer')
      .type('html')
      .send(
        html`The operations page needs a read token: open ${req.baseUrl}?token=&lt;API_TOKEN or
        API_READ_TOKEN&gt; once.`.value,
      );
  };
}

export function createOpsPage(deps: OpsPageDeps): OpsPage {
  const router = express.Router();
  router.use(
    readGuard([deps.apiToken, deps.apiReadToken].filter((t): t is string => t !== undefined)),
  );
  const clients = new Set<Response>();
  let sagas: { list?: CompensationFailedSaga[]; error?: string } = { list: [] };
  let lastSent = '';
  let closed = false;
  let running: Promise<void> | undefined;
  let again = false;
  let lastStart = 0;

  async function refreshSagas(): Promise<void> {
    try {
      sagas = { list: await listCompensationFailed(deps.temporal, { taskQueue: deps.taskQueue }) };
    } catch (err) {
      sagas = { error: err instanceof Error ? err.message : String(err) };
    }
  }

  async function snapshot(): Promise<Html> {
    const [stats, latest, stock, projections, deadLetters] = await Promise.all([
      orderStats(deps.readDb),
      listOrders(deps.readDb, {}, { limit: deps.latestOrders ?? 15, offset: 0 }),
      deps.readDb
        .selectFrom('read_models.inventory')
        .select(['product_id', 'on_hand', 'reserved', 'available'])
        .orderBy('product_id')
        .limit(50)
        .execute(),
      projectionStatus(deps.readDb),
      listDeadLetters(deps.readDb, { limit: 20 }),
    ]);
    const view: OpsSnapshot = {
      stats,
      latestOrders: latest.items,
      totalOrders: latest.total,
      stock: stock.map((r): StockRow => ({
        productId: r.product_id,
        onHand: Number(r.on_hand),
        reserved: Number(r.reserved),
        available: Number(r.available),
      })),
      projections,
      deadLetters,
      compensationFailed: sagas.list,
      compensationFailedError: sagas.error,
      sagaUrl: deps.sagaUrl,
      at: new Date(),
    };
    return renderSnapshot(view);
  }

  function send(res: Response, body: Html): void {
    // One SSE event; every line of the fragment is a data line.
    res.write(`event: snapshot\ndata: ${body.value.split('\n').join('\ndata: ')}\n\n`);
  }

  /** Waits (boundedly) until no projection lags, so the snapshot shows what woke it. */
  async function caughtUp(): Promise<void> {
    for (const pause of CATCH_UP_PAUSES_MS) {
      const status = await projectionStatus(deps.readDb);
      if (status.every((p) => p.lagEvents === 0 || p.status === 'failed')) return;
      await sleep(pause);
    }
  }

  async function broadcast(waitForProjections: boolean): Promise<void> {
    if (clients.size === 0) return;
    if (waitForProjections) await caughtUp();
    const body = await snapshot();
    // The timestamp changes every time: compare without it.
    const key = body.value.replace(/<p class="stamp">[\s\S]*$/, '');
    if (key === lastSent) return;
    lastSent = key;
    for (const res of clients) send(res, body);
  }

  /**
   * Coalesces wake-ups: one broadcast at a time, at most one start per MIN_REFRESH_MS, and one
   * more for whatever came during it, so a busy log refreshes the page four times a second.
   */
  function wake(waitForProjections = true): void {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    const delay = refreshDelay(Date.now() - lastStart);
    running = sleep(delay)
      .then(() => {
        lastStart = Date.now();
        return closed ? undefined : broadcast(waitForProjections);
      })
      .catch((err) => deps.logger?.warn({ err }, 'operations page snapshot failed'))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          wake();
        }
      });
  }

  const unsubscribe = deps.changes.subscribe(() => wake());
  const visibilityTimer = setInterval(() => {
    if (clients.size === 0) return;
    void refreshSagas().then(() => wake(false));
  }, deps.visibilityRefreshMs ?? 5000);
  visibilityTimer.unref();
  const heartbeat = setInterval(() => {
    for (const res of clients) res.write(': keep-alive\n\n');
  }, deps.heartbeatMs ?? 15_000);
  heartbeat.unref();

  router.get('/', async (_req, res) => {
    await refreshSagas();
    res
      .type('html')
      .set('cache-control', 'no-store')
      .send(renderPage(await snapshot()).value);
  });

  router.get('/events', async (req, res) => {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    clients.add(res);
    req.on('close', () => clients.delete(res));
    // A browser that reconnects gets the current picture at once.
    try {
      send(res, await snapshot());
    } catch (err) {
      // Headers are sent: end the stream, the browser reconnects after `retry`.
      deps.logger?.warn({ err }, 'operations page snapshot failed');
      clients.delete(res);
      res.end();
    }
  });

  router.get('/assets/:name', (req, res, next) => {
    const asset = ASSETS[req.params.name];
    if (!asset) return next();
    res.type(asset.type).set('cache-control', 'public, max-age=300').sendFile(asset.file);
  });

  const authorized = (req: Request) =>
    deps.apiToken === undefined || bearerAccepted(req.get('authorization'), [deps.apiToken]);

  router.post('/orders/:id/retry-compensation', async (req, res) => {
    if (!authorized(req)) {
      res.set('www-authenticate', 'Bearer');
      res
        .status(401)
        .type('html')
        .send(html`Refused: a valid API token is required.`.value);
      return;
    }
    const parsed = idSchema.safeParse(req.params.id);
    if (!parsed.success) {
      res
        .status(400)
        .type('html')
        .send(html`Invalid order id.`.value);
      return;
    }
    const orderId = parsed.data;
    try {
      await deps.orders.retryCompensation(orderId);
    } catch (err) {
      const status = (err as { code?: string }).code === 'ORDER_NOT_FOUND' ? 404 : 409;
      res
        .status(status)
        .type('html')
        .send(html`Retry of ${orderId} refused: ${(err as Error).message}`.value);
      return;
    }
    deps.logger?.info({ orderId }, 'retryCompensation sent from the operations page');
    res.type('html').send(html`retryCompensation sent to the saga of ${orderId}.`.value);
    void refreshSagas().then(() => wake(false));
  });

  return {
    router,
    close() {
      closed = true;
      unsubscribe();
      clearInterval(visibilityTimer);
      clearInterval(heartbeat);
      for (const res of clients) res.end();
      clients.clear();
    },
  };
}
