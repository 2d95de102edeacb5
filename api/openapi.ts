// The OpenAPI 3.1 document served at /openapi.json. Request bodies come from the same zod
// schemas that validate them, so the document cannot drift from what the API accepts; response
// schemas are checked against real responses by api/openapi.int.test.ts, and the document is
// linted with Redocly's recommended rules by api/openapi.test.ts.
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

const jsonSchema = (schema: z.ZodType) => {
  // zod writes a $schema keyword; inside an OpenAPI 3.1 document the dialect is the document's.
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
  });
  return rest;
};

const problem = { $ref: '#/components/schemas/Problem' };
const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: problem } },
});
const DESCRIPTIONS: Record<string, string> = {
  '400': 'invalid input',
  '401': 'missing or wrong bearer token',
  '404': 'not found',
  '409': 'conflict with the current state',
  '413': 'request body too large',
  '415': 'request body is not JSON',
  '503': 'a dependency is unavailable',
  '504': 'Temporal did not answer within the request deadline; retry (Retry-After)',
  '4XX': 'client error',
};
const errors = (...statuses: string[]) =>
  Object.fromEntries(statuses.map((s) => [s, problemResponse(DESCRIPTIONS[s] ?? 'problem')]));
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
/** Writes always need API_TOKEN when the server has one. */
const writeSecurity = [{ bearer: [] }];
/** Reads are open unless the server has a token; then they need one (`{}` = no credentials). */
const readSecurity = [{}, { bearer: [] }];
/** Liveness and readiness stay open whatever the tokens. */
const openSecurity: never[] = [];

const obj = (properties: Record<string, object>, required = Object.keys(properties)) => ({
  type: 'object',
  properties,
  required,
});
const list = (item: string) =>
  obj({
    items: { type: 'array', items: { $ref: `#/components/schemas/${item}` } },
    limit: { type: 'integer' },
    offset: { type: 'integer' },
    total: { type: 'integer' },
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
const nullableTime = { type: ['string', 'null'], format: 'date-time' };
const nullableStr = { type: ['string', 'null'] };
const orderStatus = { type: 'string', enum: ['pending', 'completed', 'cancelled'] };
const sagaStep = {
  type: 'string',
  enum: ['create_order', 'reserve_inventory', 'process_payment', 'confirm_order'],
};
const line = obj({ productId: str, quantity: int, unitPriceCents: int });
const statusCounts = obj({ count: int, revenueCents: int });

let cached: object | undefined;

export function openApiDocument(): object {
  cached ??= {
    openapi: '3.1.0',
    info: {
      title: 'Order saga platform',
      version: '1.0.0',
      license: { name: 'MIT', identifier: 'MIT' },
      description:
        'Read models over event-sourced order sagas, and the writes that start and steer them. ' +
        'Errors are application/problem+json. Writes need `Authorization: Bearer <API_TOKEN>` ' +
        'when the server has a token; reads need a token too when the server has one.',
    },
    // Relative: the server that serves this document (any host, PORT and scheme).
    servers: [{ url: '/', description: 'the API that serves this document' }],
    security: readSecurity,
    tags: [
      { name: 'orders', description: 'Order read models and the saga behind each order' },
      { name: 'catalog', description: 'Inventory and customer credit' },
      { name: 'operations', description: 'Health, metrics, projections and the operations page' },
    ],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Problem: obj(
          {
            type: str,
            title: str,
            status: int,
            detail: str,
            code: { type: 'string', description: 'machine-readable reason, when there is one' },
          },
          ['title', 'status'],
        ),
        Order: obj({
          id: str,
          customerId: str,
          status: orderStatus,
          currency: str,
          totalAmountCents: int,
          itemCount: int,
          createdAt: time,
          updatedAt: time,
          completedAt: nullableTime,
          cancelledAt: nullableTime,
          cancellationReason: nullableStr,
          version: int,
        }),
        OrderItem: obj({
          lineNo: int,
          productId: str,
          quantity: int,
          unitPriceCents: int,
          totalPriceCents: int,
          createdAt: time,
        }),
        Inventory: obj(
          {
            productId: str,
            onHand: int,
            reserved: int,
            available: int,
            version: int,
            updatedAt: time,
          },
          ['productId', 'onHand', 'reserved', 'available', 'version'],
        ),
        Credit: obj(
          { customerId: str, availableCents: int, spentCents: int, version: int, updatedAt: time },
          ['customerId', 'availableCents', 'spentCents', 'version'],
        ),
        OrderLine: line,
        SagaState: obj(
          {
            status: {
              type: 'string',
              enum: [
                'running',
                'awaiting_payment_confirmation',
                'compensating',
                'compensation_failed',
                'completed',
                'cancelled',
              ],
            },
            step: { anyOf: [sagaStep, { type: 'string', const: 'compensate' }, { type: 'null' }] },
            completedSteps: { type: 'array', items: sagaStep },
            compensations: { type: 'array', items: str },
            lastError: nullableStr,
            items: { type: 'array', items: ref('OrderLine') },
            totalCents: int,
          },
          ['status', 'step', 'completedSteps', 'compensations', 'lastError'],
        ),
        ProjectionStatus: obj({
          name: str,
          status: str,
          transactionId: str,
          globalPosition: int,
          eventsProcessed: int,
          lagEvents: int,
          lagExact: { type: 'boolean' },
          lagSeconds: { type: 'number', minimum: 0 },
          lastError: nullableStr,
          updatedAt: time,
          deadLetters: int,
        }),
      },
    },
    paths: {
      '/orders': {
        get: {
          operationId: 'listOrders',
          tags: ['orders'],
          summary: 'List orders, newest first',
          parameters: [
            ...pageParams,
            { name: 'status', in: 'query', schema: orderStatus },
            { ...idParam('customerId'), in: 'query', required: false },
          ],
          responses: { 200: ok('a page of orders', list('Order')), ...errors('400', '401') },
        },
        post: {
          operationId: 'startOrder',
          tags: ['orders'],
          summary: 'Start an order saga (idempotent on orderId, or on Idempotency-Key without one)',
          security: writeSecurity,
          parameters: [
            {
              ...idempotencyKey,
              description:
                'without an orderId, names the order (a UUID v5 of the key): a retried request ' +
                'meets the saga its first attempt started',
            },
          ],
          requestBody: body(createOrderSchema),
          responses: {
            202: ok(
              'started (or already running)',
              obj({ orderId: str, workflowId: str, runId: str }),
            ),
            ...errors('400', '401', '413', '415', '504'),
            ...conflict('ORDER_ALREADY_EXISTS: this order id was started with other content'),
          },
        },
      },
      '/orders/{id}': {
        get: {
          operationId: 'getOrder',
          tags: ['orders'],
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
            ...errors('400', '401', '404'),
            409: problemResponse('READ_MODEL_BEHIND: minVersion not reached in time; retry'),
          },
        },
      },
      '/orders/{id}/items': {
        get: {
          operationId: 'listOrderItems',
          tags: ['orders'],
          summary: 'Items of an order',
          parameters: [idParam('id'), ...pageParams],
          responses: {
            200: ok('a page of items', list('OrderItem')),
            ...errors('400', '401', '404'),
          },
        },
        post: {
          operationId: 'addOrderItem',
          tags: ['orders'],
          summary: 'Add an item to a pending order (the saga addItem update)',
          security: writeSecurity,
          parameters: [idParam('id'), idempotencyKey],
          requestBody: body(orderLineSchema),
          responses: {
            200: ok(
              'the line added, and the order line count and total after it',
              obj({
                orderId: str,
                line: ref('OrderLine'),
                itemCount: int,
                totalCents: int,
              }),
            ),
            ...errors('400', '401', '404', '413', '415', '503', '504'),
            ...conflict(
              'ORDER_NOT_PENDING (payment started), INSUFFICIENT_STOCK, TOO_MANY_ITEMS (the ' +
                'order already has 100 lines), SAGA_FINISHED; a line that takes the total past ' +
                '2^53 - 1 cents is a 400 (INVALID_COMMAND)',
            ),
          },
        },
      },
      '/orders/{id}/cancel': {
        post: {
          operationId: 'cancelOrder',
          tags: ['orders'],
          summary: 'Cancel the order (the saga cancelOrder update): says whether it took effect',
          security: writeSecurity,
          parameters: [idParam('id'), idempotencyKey],
          requestBody: { ...body(cancelOrderSchema), required: false },
          responses: {
            200: ok(
              'outcome "cancelled": the order will end cancelled, its compensations run',
              obj({ orderId: str, outcome: { type: 'string', const: 'cancelled' }, status: str }),
            ),
            ...errors('400', '401', '404', '413', '415', '504'),
            ...conflict('TOO_LATE_TO_CANCEL (being or was confirmed), SAGA_FINISHED'),
          },
        },
      },
      '/orders/{id}/confirm-payment': {
        post: {
          operationId: 'confirmPayment',
          tags: ['orders'],
          summary:
            'Confirm the payment the saga awaits (the confirmPayment update), of its current total',
          security: writeSecurity,
          parameters: [idParam('id'), idempotencyKey],
          requestBody: body(confirmPaymentSchema),
          responses: {
            200: ok(
              'confirmed',
              obj({
                orderId: str,
                amountCents: int,
                status: { type: 'string', const: 'confirmed' },
              }),
            ),
            ...errors('400', '401', '404', '413', '415', '504'),
            ...conflict(
              'PAYMENT_CONFIRMATION_NOT_AWAITED (early, not needed, or already given), ' +
                'PAYMENT_AMOUNT_MISMATCH (amountCents is not the saga total), SAGA_FINISHED',
            ),
          },
        },
      },
      '/orders/{id}/compensations/skip': {
        post: {
          operationId: 'skipCompensation',
          tags: ['orders'],
          summary:
            'Operator: give up the failed compensation of a saga in compensation_failed ' +
            '(skipCompensation update); recorded as a CompensationSkipped event',
          security: writeSecurity,
          parameters: [idParam('id'), idempotencyKey],
          requestBody: body(skipCompensationSchema),
          responses: {
            200: ok('skipped', obj({ orderId: str, skipped: str, status: str })),
            ...errors('400', '401', '404', '413', '415', '504'),
            ...conflict('COMPENSATION_NOT_FAILED, UNKNOWN_COMPENSATION, SAGA_FINISHED'),
          },
        },
      },
      '/orders/{id}/saga': {
        get: {
          operationId: 'getSagaState',
          tags: ['orders'],
          summary:
            "The saga's state (sagaState query): status, step, completedSteps, compensations, " +
            'skippedCompensations, lastError, items, totalCents',
          parameters: [idParam('id')],
          responses: {
            200: ok('saga state', ref('SagaState')),
            ...errors('400', '401', '404', '409'),
          },
        },
      },
      '/customers/{customerId}/orders': {
        get: {
          operationId: 'listCustomerOrders',
          tags: ['orders'],
          summary: "A customer's orders",
          parameters: [idParam('customerId'), ...pageParams],
          responses: { 200: ok('a page of orders', list('Order')), ...errors('400', '401') },
        },
      },
      '/customers/{customerId}/credit': {
        get: {
          operationId: 'getCustomerCredit',
          tags: ['catalog'],
          summary: "A customer's credit",
          parameters: [idParam('customerId')],
          responses: { 200: ok('credit', ref('Credit')), ...errors('400', '401', '404') },
        },
        post: {
          operationId: 'grantCredit',
          tags: ['catalog'],
          summary: 'Grant credit (Idempotency-Key header makes retries write once)',
          security: writeSecurity,
          parameters: [idParam('customerId')],
          requestBody: body(grantCreditSchema),
          responses: {
            200: ok('credit after the grant', ref('Credit')),
            ...errors('400', '401', '413', '415'),
          },
        },
      },
      '/admin/customers/{customerId}/forget': {
        post: {
          operationId: 'forgetCustomer',
          tags: ['catalog'],
          summary:
            'Forget a customer: destroy their data key, so their personal fields read as erased everywhere (docs/security.md)',
          security: writeSecurity,
          parameters: [idParam('customerId')],
          responses: {
            200: ok(
              'the customer is forgotten (keysDestroyed is 0 when they had no key)',
              obj({ customerId: str, keysDestroyed: int }, ['customerId', 'keysDestroyed']),
            ),
            ...errors('400', '401', '409'),
          },
        },
      },
      '/products/{productId}': {
        get: {
          operationId: 'getProductInventory',
          tags: ['catalog'],
          summary: "A product's inventory",
          parameters: [idParam('productId')],
          responses: { 200: ok('inventory', ref('Inventory')), ...errors('400', '401', '404') },
        },
      },
      '/products/{productId}/restock': {
        post: {
          operationId: 'restockProduct',
          tags: ['catalog'],
          summary: 'Add stock (Idempotency-Key header makes retries write once)',
          security: writeSecurity,
          parameters: [idParam('productId')],
          requestBody: body(restockSchema),
          responses: {
            200: ok('inventory after the restock', ref('Inventory')),
            ...errors('400', '401', '413', '415'),
          },
        },
      },
      '/stats/orders': {
        get: {
          operationId: 'getOrderStats',
          tags: ['orders'],
          summary: 'Order count and revenue per status',
          responses: {
            200: ok(
              'count and revenue (cents) per order status',
              obj({ pending: statusCounts, completed: statusCounts, cancelled: statusCounts }),
            ),
            ...errors('400', '401'),
          },
        },
      },
      '/projections': {
        get: {
          operationId: 'listProjections',
          tags: ['operations'],
          summary: 'Projection positions, status and lag',
          responses: {
            200: ok(
              'every projection',
              obj({ items: { type: 'array', items: ref('ProjectionStatus') } }),
            ),
            ...errors('400', '401'),
          },
        },
      },
      '/health': {
        get: {
          operationId: 'getHealth',
          tags: ['operations'],
          summary: 'Liveness',
          security: openSecurity,
          responses: {
            200: ok('the process serves requests', obj({ status: { const: 'ok' } })),
            ...errors('4XX'),
          },
        },
      },
      '/ready': {
        get: {
          operationId: 'getReadiness',
          tags: ['operations'],
          summary: 'Readiness (databases)',
          security: openSecurity,
          responses: {
            200: ok('the databases answer', obj({ status: { const: 'ready' } })),
            ...errors('4XX', '503'),
          },
        },
      },
      '/metrics': {
        get: {
          operationId: 'getMetrics',
          tags: ['operations'],
          summary: 'Prometheus metrics (METRICS_TOKEN when set)',
          responses: {
            200: {
              description: 'Prometheus text exposition format',
              content: { 'text/plain': { schema: str } },
            },
            ...errors('401', '404'),
          },
        },
      },
      '/ops': {
        get: {
          operationId: 'getOperationsPage',
          tags: ['operations'],
          summary: 'The live operations page (HTML; docs/observability.md)',
          responses: {
            200: { description: 'the page', content: { 'text/html': { schema: str } } },
            ...errors('401'),
          },
        },
      },
      '/ops/events': {
        get: {
          operationId: 'streamOperationsSnapshots',
          tags: ['operations'],
          summary: "The operations page's live snapshots (Server-Sent Events, event `snapshot`)",
          responses: {
            200: {
              description: 'an endless event stream of HTML snapshots',
              content: { 'text/event-stream': { schema: str } },
            },
            ...errors('401'),
          },
        },
      },
      '/ops/orders/{id}/retry-compensation': {
        post: {
          operationId: 'retryCompensation',
          tags: ['operations'],
          summary: 'Send retryCompensation to a saga in compensation_failed (the page button)',
          security: writeSecurity,
          parameters: [idParam('id')],
          responses: {
            200: {
              description: 'signal sent (HTML fragment)',
              content: { 'text/html': { schema: str } },
            },
            ...Object.fromEntries(
              (['401', '404', '409'] as const).map((s) => [
                s,
                { description: DESCRIPTIONS[s], content: { 'text/html': { schema: str } } },
              ]),
            ),
          },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'getOpenApiDocument',
          tags: ['operations'],
          summary: 'This document',
          security: openSecurity,
          responses: { 200: ok('OpenAPI 3.1', { type: 'object' }), ...errors('4XX') },
        },
      },
    },
  };
  return cached;
}
