// The OpenAPI 3.1 document served at /openapi.json. Request bodies come from the same zod
// schemas that validate them, so the document cannot drift from what the API accepts.
import { z } from 'zod';
import {
  cancelOrderSchema,
  confirmPaymentSchema,
  createOrderSchema,
  DEFAULT_PAGE_SIZE,
  grantCreditSchema,
  MAX_OFFSET,
  MAX_PAGE_SIZE,
  MAX_WAIT_MS,
  orderLineSchema,
  restockSchema,
  skipCompensationSchema,
} from './schemas';

const jsonSchema = (schema: z.ZodType) =>
  z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });

const problem = { $ref: '#/components/schemas/Problem' };
const errors = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((s) => [
      String(s),
      { description: 'problem', content: { 'application/problem+json': { schema: problem } } },
    ]),
  );
const ok = (description: string, schema?: object) => ({
  description,
  ...(schema ? { content: { 'application/json': { schema } } } : {}),
});
const idParam = (name: string) => ({
  name,
  in: 'path',
  required: true,
  schema: { type: 'string', maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]*$' },
});
const pageParams = [
  {
    name: 'limit',
    in: 'query',
    schema: { type: 'integer', minimum: 1, default: DEFAULT_PAGE_SIZE },
    description: `capped at ${MAX_PAGE_SIZE}`,
  },
  {
    name: 'offset',
    in: 'query',
    schema: { type: 'integer', minimum: 0, maximum: MAX_OFFSET, default: 0 },
  },
];
const body = (schema: z.ZodType) => ({
  required: true,
  content: { 'application/json': { schema: jsonSchema(schema) } },
});
const secured = [{ bearer: [] }];
const list = (item: string) => ({
  type: 'object',
  properties: {
    items: { type: 'array', items: { $ref: `#/components/schemas/${item}` } },
    limit: { type: 'integer' },
    offset: { type: 'integer' },
    total: { type: 'integer' },
  },
});
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const int = { type: 'integer' };
const idempotencyKey = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  schema: { type: 'string', maxLength: 200 },
  description: 'the update id: a retried request runs once and gets the first answer',
};
const conflict = (description: string) => ({
  409: { description, content: { 'application/problem+json': { schema: problem } } },
});
const str = { type: 'string' };
const time = { type: 'string', format: 'date-time' };

let cached: object | undefined;

export function openApiDocument(): object {
  cached ??= {
    openapi: '3.1.0',
    info: {
      title: 'Order saga platform',
      version: '1.0.0',
      description:
        'Read models over event-sourced order sagas, and the writes that start and steer them. ' +
        'Errors are application/problem+json. Writes need `Authorization: Bearer <API_TOKEN>` ' +
        'when the server has a token.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Problem: {
          type: 'object',
          properties: { type: str, title: str, status: int, detail: str },
        },
        Order: {
          type: 'object',
          properties: {
            id: str,
            customerId: str,
            status: { enum: ['pending', 'completed', 'cancelled'] },
            currency: str,
            totalAmountCents: int,
            itemCount: int,
            createdAt: time,
            updatedAt: time,
            completedAt: { ...time, nullable: true },
            cancelledAt: { ...time, nullable: true },
            cancellationReason: { type: ['string', 'null'] },
            version: int,
          },
        },
        OrderItem: {
          type: 'object',
          properties: {
            lineNo: int,
            productId: str,
            quantity: int,
            unitPriceCents: int,
            totalPriceCents: int,
            createdAt: time,
          },
        },
        Inventory: {
          type: 'object',
          properties: { productId: str, onHand: int, reserved: int, available: int, version: int },
        },
        Credit: {
          type: 'object',
          properties: { customerId: str, availableCents: int, spentCents: int, version: int },
        },
      },
    },
    paths: {
      '/orders': {
        get: {
          summary: 'List orders, newest first',
          parameters: [
            ...pageParams,
            {
              name: 'status',
              in: 'query',
              schema: { enum: ['pending', 'completed', 'cancelled'] },
            },
            { ...idParam('customerId'), in: 'query', required: false },
          ],
          responses: { 200: ok('a page of orders', list('Order')), ...errors(400) },
        },
        post: {
          summary: 'Start an order saga (idempotent on orderId)',
          security: secured,
          requestBody: body(createOrderSchema),
          responses: {
            202: ok('started (or already running)', {
              type: 'object',
              properties: { orderId: str, workflowId: str, runId: str },
            }),
            ...errors(400, 401, 409, 413, 415),
          },
        },
      },
      '/orders/{id}': {
        get: {
          summary: 'One order; with minVersion, wait until the read model has reached it',
          parameters: [
            idParam('id'),
            { name: 'minVersion', in: 'query', schema: { type: 'integer', minimum: 1 } },
            {
              name: 'waitMs',
              in: 'query',
              schema: { type: 'integer', minimum: 0, maximum: MAX_WAIT_MS, default: 2000 },
            },
          ],
          responses: {
            200: ok('the order (ETag; If-None-Match gives 304)', ref('Order')),
            304: ok('not modified'),
            ...errors(400, 404),
            409: {
              description: 'READ_MODEL_BEHIND: minVersion not reached in time; retry',
              content: { 'application/problem+json': { schema: problem } },
            },
          },
        },
      },
      '/orders/{id}/items': {
        get: {
          summary: 'Items of an order',
          parameters: [idParam('id'), ...pageParams],
          responses: { 200: ok('a page of items', list('OrderItem')), ...errors(400, 404) },
        },
        post: {
          summary: 'Add an item to a pending order (the saga addItem update)',
          security: secured,
          parameters: [idParam('id'), idempotencyKey],
          requestBody: body(orderLineSchema),
          responses: {
            200: ok('the order lines and the new total'),
            ...errors(400, 401, 404, 413, 415),
            ...conflict(
              'ORDER_NOT_PENDING (payment started), INSUFFICIENT_STOCK, SAGA_FINISHED; a line ' +
                'that takes the total past 2^53 - 1 cents is a 400 (INVALID_COMMAND)',
            ),
          },
        },
      },
      '/orders/{id}/cancel': {
        post: {
          summary: 'Cancel the order (the saga cancelOrder update): says whether it took effect',
          security: secured,
          parameters: [idParam('id'), idempotencyKey],
          requestBody: { ...body(cancelOrderSchema), required: false },
          responses: {
            200: ok('outcome "cancelled": the order will end cancelled, its compensations run', {
              type: 'object',
              properties: { orderId: str, outcome: { const: 'cancelled' }, status: str },
            }),
            ...errors(400, 401, 404, 413, 415),
            ...conflict('TOO_LATE_TO_CANCEL (being or was confirmed), SAGA_FINISHED'),
          },
        },
      },
      '/orders/{id}/confirm-payment': {
        post: {
          summary:
            'Confirm the payment the saga awaits (the confirmPayment update), of its current total',
          security: secured,
          parameters: [idParam('id'), idempotencyKey],
          requestBody: body(confirmPaymentSchema),
          responses: {
            200: ok('confirmed', {
              type: 'object',
              properties: { orderId: str, amountCents: int, status: { const: 'confirmed' } },
            }),
            ...errors(400, 401, 404, 413, 415),
            ...conflict(
              'PAYMENT_CONFIRMATION_NOT_AWAITED (early, not needed, or already given), ' +
                'PAYMENT_AMOUNT_MISMATCH (amountCents is not the saga total), SAGA_FINISHED',
            ),
          },
        },
      },
      '/orders/{id}/compensations/skip': {
        post: {
          summary:
            'Operator: give up the failed compensation of a saga in compensation_failed ' +
            '(skipCompensation update); recorded as a CompensationSkipped event',
          security: secured,
          parameters: [idParam('id'), idempotencyKey],
          requestBody: body(skipCompensationSchema),
          responses: {
            200: ok('skipped', {
              type: 'object',
              properties: { orderId: str, skipped: str, status: str },
            }),
            ...errors(400, 401, 404, 413, 415),
            ...conflict('COMPENSATION_NOT_FAILED, UNKNOWN_COMPENSATION, SAGA_FINISHED'),
          },
        },
      },
      '/orders/{id}/saga': {
        get: {
          summary:
            "The saga's state (sagaState query): status, step, completedSteps, compensations, " +
            'skippedCompensations, lastError, items, totalCents',
          parameters: [idParam('id')],
          responses: { 200: ok('saga state'), ...errors(400, 404, 409) },
        },
      },
      '/customers/{customerId}/orders': {
        get: {
          summary: "A customer's orders",
          parameters: [idParam('customerId'), ...pageParams],
          responses: { 200: ok('a page of orders', list('Order')), ...errors(400) },
        },
      },
      '/customers/{customerId}/credit': {
        get: {
          summary: "A customer's credit",
          parameters: [idParam('customerId')],
          responses: { 200: ok('credit', ref('Credit')), ...errors(400, 404) },
        },
        post: {
          summary: 'Grant credit (Idempotency-Key header makes retries write once)',
          security: secured,
          parameters: [idParam('customerId')],
          requestBody: body(grantCreditSchema),
          responses: { 200: ok('credit after the grant'), ...errors(400, 401, 413, 415) },
        },
      },
      '/products/{productId}': {
        get: {
          summary: "A product's inventory",
          parameters: [idParam('productId')],
          responses: { 200: ok('inventory', ref('Inventory')), ...errors(400, 404) },
        },
      },
      '/products/{productId}/restock': {
        post: {
          summary: 'Add stock (Idempotency-Key header makes retries write once)',
          security: secured,
          parameters: [idParam('productId')],
          requestBody: body(restockSchema),
          responses: { 200: ok('inventory after the restock'), ...errors(400, 401, 413, 415) },
        },
      },
      '/stats/orders': {
        get: { summary: 'Order count and revenue per status', responses: { 200: ok('stats') } },
      },
      '/projections': {
        get: { summary: 'Projection positions, status and lag', responses: { 200: ok('list') } },
      },
      '/health': { get: { summary: 'Liveness', responses: { 200: ok('ok') } } },
      '/ready': {
        get: { summary: 'Readiness (databases)', responses: { 200: ok('ready'), ...errors(503) } },
      },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { 200: ok('text') } } },
    },
  };
  return cached;
}
