// Every error leaves the API as application/problem+json. Error codes map to statuses here,
// in one place; anything unknown is a 500 with no internals in the body.
import { isGrpcDeadlineError } from '@temporalio/client';
import type { ErrorRequestHandler, Response } from 'express';
import { ZodError } from 'zod';

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
  }
}

const STATUS_BY_CODE: Record<string, number> = {
  INVALID_COMMAND: 400,
  ORDER_NOT_FOUND: 404,
  ORDER_ALREADY_EXISTS: 409,
  ORDER_NOT_PENDING: 409,
  ORDER_EMPTY: 409,
  ORDER_ALREADY_COMPLETED: 409,
  CURRENCY_MISMATCH: 409,
  INSUFFICIENT_STOCK: 409,
  PAYMENT_DECLINED: 409,
  PAYMENT_CONFIRMATION_NOT_AWAITED: 409,
  PAYMENT_AMOUNT_MISMATCH: 409,
  COMPENSATION_NOT_FAILED: 409,
  UNKNOWN_COMPENSATION: 409,
  TOO_MANY_ITEMS: 409,
  STEP_UNAVAILABLE: 503,
  CONCURRENCY_CONFLICT: 409,
  EVENT_ID_CONFLICT: 409,
  SAGA_FINISHED: 409,
  REBUILD_RUNNING: 409,
};

export function sendProblem(
  res: Response,
  status: number,
  title: string,
  detail: string,
  extra: Record<string, unknown> = {},
): void {
  res
    .status(status)
    .type('application/problem+json')
    .json({ type: 'about:blank', title, status, detail, ...extra });
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Socket-level codes of a peer that is down, restarting or unreachable. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
]);

/**
 * node-postgres reports a connection lost mid-query, a pool that cannot connect in time, and a
 * client broken by an earlier loss as plain Errors without a code: their messages are all
 * there is to go by.
 */
const PG_CONNECTION_LOST =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

/** A Temporal call past its deadline (api/app.ts sets one per request). */
function isTemporalDeadline(err: unknown): boolean {
  // By name: @temporalio errors lose instanceof across module copies.
  if ((err as Error | undefined)?.name === 'WorkflowUpdateRPCTimeoutOrCancelledError') return true;
  return isGrpcDeadlineError(err);
}

/** Temporal or Postgres out of reach: the client may retry, it is not a bug. */
function isUnavailable(err: unknown): boolean {
  const e = err as { name?: unknown; code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  return (
    e?.name === 'ServiceError' ||
    e?.name === 'TransportError' ||
    UNREACHABLE_CODES.has(code) ||
    // SQLSTATE 08: connection exception; 57P01-57P03: shutting down, crashed, starting up;
    // 53300: too many connections.
    /^08/.test(code) ||
    /^57P0[123]$/.test(code) ||
    code === '53300' ||
    (typeof e?.message === 'string' && PG_CONNECTION_LOST.test(e.message))
  );
}

export function problemHandler(onUnexpected: (err: unknown) => void): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    if (err instanceof HttpProblem)
      return sendProblem(res, err.status, err.title, err.message, err.extra);
    if (err instanceof ZodError) {
      const issues = err.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
      const first = issues[0];
      return sendProblem(
        res,
        400,
        TITLES[400]!,
        first ? `${first.path || 'body'}: ${first.message}` : 'invalid input',
        { issues },
      );
    }
    const e = err as { code?: unknown; status?: unknown; type?: unknown; message?: unknown };
    if (typeof e.code === 'string' && STATUS_BY_CODE[e.code]) {
      const status = STATUS_BY_CODE[e.code]!;
      return sendProblem(res, status, TITLES[status]!, String(e.message), { code: e.code });
    }
    // body-parser's errors carry a 4xx status and a type (entity.too.large, entity.parse.failed...)
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      const detail =
        e.type === 'entity.parse.failed'
          ? 'request body is not valid JSON'
          : e.type === 'entity.too.large'
            ? 'request body is too large'
            : typeof e.message === 'string'
              ? e.message
              : 'bad request';
      return sendProblem(res, e.status, TITLES[e.status] ?? 'Bad Request', detail);
    }
    if (isTemporalDeadline(err)) {
      res.set('retry-after', '1');
      return sendProblem(
        res,
        504,
        TITLES[504]!,
        'Temporal did not answer within the request deadline; the request may still take ' +
          'effect: check its state or retry with the same Idempotency-Key',
      );
    }
    if (isUnavailable(err)) {
      res.set('retry-after', '1');
      return sendProblem(res, 503, TITLES[503]!, 'a backing service is unavailable; retry');
    }
    onUnexpected(err);
    return sendProblem(res, 500, TITLES[500]!, 'unexpected error');
  };
}
