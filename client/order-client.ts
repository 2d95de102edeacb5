// Starts and talks to order sagas through the Temporal client; shared by the CLI and the API.
import { createHash, randomUUID } from 'node:crypto';
import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { fromPayloadsAtIndex, type LoadedDataConverter, type Payload } from '@temporalio/common';
import {
  orderContentKey,
  sameOrderContent,
  type OrderContent,
  type OrderRecords,
} from '../application/order-creation';
import { orderTotalCents, type OrderLine } from '../domain/order';
import { DomainError, type DomainErrorCode } from '../domain/shared';
import { clearPersonalData, type PersonalData } from '../keys/personal-data';
import {
  addItemUpdate,
  cancelOrderUpdate,
  confirmPaymentUpdate,
  retryCompensationSignal,
  sagaStateQuery,
  skipCompensationUpdate,
} from '../workflows/messages';
import { orderSaga } from '../workflows';
import { innermostApplicationFailure } from '../workflows/failures';
import { checkNewOrder, checkOrderLine, type Checked } from '../workflows/order-input-checks';
import { CustomerIdKey, OrderStatusKey, OrderTotalCentsKey } from '../workflows/search-attributes';
import {
  type AddItemResult,
  type CancelOrderResult,
  type ConfirmPaymentResult,
  type OrderSagaInput,
  type SkipCompensationResult,
  type SagaState,
  workflowIdFor,
} from '../workflows/types';

export interface OrderClientOptions {
  taskQueue: string;
  paymentConfirmationThresholdCents: number;
  paymentConfirmationTimeoutMs: number;
  useLocalActivities?: boolean;
  /** Attempts per compensation before the saga waits in compensation_failed (default 10). */
  compensationMaxAttempts?: number;
  /** Attempts of a forward step before the saga compensates (default 36, about 5 minutes). */
  stepMaxAttempts?: number;
  /**
   * Ask the server to hand the saga's first workflow task straight back in the start call's
   * answer (Temporal's eager workflow start), to a worker of this process. Only for a client on
   * the NativeConnection of a worker polling the task queue (npm start); the SDK refuses it on
   * any other connection.
   */
  eagerStart?: boolean;
  /**
   * The event store's record of orders (application/order-creation.ts): a start whose order id
   * the store already holds is answered from it, whatever Temporal still remembers. bootstrap.ts
   * and the CLI always pass it; without it a reused id is caught only while Temporal keeps the
   * saga's workflow (its namespace retention).
   */
  orderRecords?: OrderRecords;
  /**
   * Seals the shipping address under the customer's key before the saga starts
   * (keys/personal-data.ts), so Temporal's history never holds it in clear.
   */
  personalData?: PersonalData;
}

export interface StartOrderRequest {
  orderId?: string;
  customerId: string;
  currency?: string;
  items: OrderLine[];
  shippingAddress?: Record<string, unknown> | null;
  correlationId?: string;
}

export interface StartedOrder {
  orderId: string;
  workflowId: string;
  runId: string;
  /** False when the saga for this order id was already running (idempotent start). */
  started: boolean;
}

export class OrderNotFoundError extends Error {
  readonly code = 'ORDER_NOT_FOUND';
  constructor(orderId: string) {
    super(`No saga for order ${orderId}`);
  }
}

/** The saga exists but has finished (completed or cancelled): it takes no more requests. */
export class SagaFinishedError extends Error {
  readonly code = 'SAGA_FINISHED';
  constructor(
    orderId: string,
    readonly status: string,
  ) {
    super(`The saga of order ${orderId} has finished (${status.toLowerCase()})`);
  }
}

/**
 * A second start of an order id with other content: the order exists, and it is not this one.
 * An HTTP retry (same content, any correlation id) is not a conflict.
 */
export class OrderContentConflictError extends Error {
  readonly code = 'ORDER_ALREADY_EXISTS';
  constructor(orderId: string) {
    super(
      `order ${orderId} was already started with other content (customer, currency, items or ` +
        `shipping address); use a new order id or Idempotency-Key`,
    );
  }
}

/** Memo key of the hash of what the order is, set at start and compared on a duplicate start. */
export const ORDER_CONTENT_MEMO = 'orderContentSha256';

/** What makes two starts the same order (orderContentKey): not the correlation id, not the saga's settings. */
export function orderContentHash(input: OrderContent): string {
  return createHash('sha256').update(orderContentKey(input)).digest('hex');
}

/** A payload list decoded with the client's codecs (last first, as encoded), then converted. */
async function decodeFirstPayload(
  converter: LoadedDataConverter,
  payloads: Payload[] | null | undefined,
): Promise<unknown> {
  if (!payloads?.length) return undefined;
  let decoded = payloads;
  for (const codec of [...converter.payloadCodecs].reverse()) decoded = await codec.decode(decoded);
  return fromPayloadsAtIndex(converter.payloadConverter, 0, decoded);
}

/**
 * What a saga is started with besides its input: the memo a duplicate start is compared with,
 * the policy that never starts a second saga for an order, and the search attributes it is listed by from the start, before
 * its first task has run.
 */
export function orderSagaStartOptions(input: OrderSagaInput) {
  return {
    memo: { [ORDER_CONTENT_MEMO]: orderContentHash(input) },
    workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
    typedSearchAttributes: [
      { key: CustomerIdKey, value: input.customerRef ?? input.customerId },
      { key: OrderStatusKey, value: 'running' },
      { key: OrderTotalCentsKey, value: orderTotalCents(input.items) },
    ],
  };
}

/** Codes an update refusal can carry (the ApplicationFailure type set by the saga). */
const REFUSAL_CODES: readonly DomainErrorCode[] = [
  'INVALID_COMMAND',
  'ORDER_NOT_PENDING',
  'INSUFFICIENT_STOCK',
  'PAYMENT_CONFIRMATION_NOT_AWAITED',
  'PAYMENT_AMOUNT_MISMATCH',
  'COMPENSATION_NOT_FAILED',
  'UNKNOWN_COMPENSATION',
  'TOO_MANY_ITEMS',
  'STEP_UNAVAILABLE',
];

/**
 * Options of a call that runs an update. `updateId`: the same id twice (a retried HTTP
 * request) runs the update once; the second call gets the first call's answer.
 */
export interface UpdateCallOptions {
  updateId?: string;
}

/** A value that fails the shared schema: a DomainError naming the field. */
function parseOrThrow<T>(checked: Checked<T>): T {
  if (checked.ok) return checked.value;
  throw new DomainError('INVALID_COMMAND', checked.message);
}

/** Temporal's "no such workflow"; its error class does not survive everywhere. */
function isNotFound(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || (err as Error)?.name === 'WorkflowNotFoundError';
}

export function createOrderClient(client: Client, options: OrderClientOptions) {
  const handleFor = (orderId: string) => client.workflow.getHandle(workflowIdFor(orderId));
  const personal = options.personalData ?? clearPersonalData;

  /** Maps "no such workflow" to OrderNotFoundError; Temporal's error class does not survive everywhere. */
  async function withSaga<T>(orderId: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (isNotFound(err)) {
        // Temporal says "not found" both for an unknown workflow and for one that has closed.
        const status = await handleFor(orderId)
          .describe()
          .then((d) => d.status.name)
          .catch(() => undefined);
        if (status && status !== 'RUNNING') throw new SagaFinishedError(orderId, status);
        throw new OrderNotFoundError(orderId);
      }
      throw err;
    }
  }

  /** Runs an update; the saga's refusal becomes a DomainError with the refusal's code. */
  async function runUpdate<T>(orderId: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await withSaga(orderId, fn);
    } catch (err) {
      if (
        err instanceof WorkflowUpdateFailedError ||
        (err as Error)?.name === 'WorkflowUpdateFailedError'
      ) {
        const failure = innermostApplicationFailure(err);
        const code = REFUSAL_CODES.find((c) => c === failure?.type) ?? 'ORDER_NOT_PENDING';
        throw new DomainError(code, failure?.message ?? (err as Error).message, { orderId });
      }
      throw err;
    }
  }

  return {
    async start(request: StartOrderRequest): Promise<StartedOrder> {
      // The saga validates its input too; refusing here spares a start that would fail.
      parseOrThrow(
        checkNewOrder({
          orderId: request.orderId,
          customerId: request.customerId,
          currency: request.currency,
          items: request.items,
          shippingAddress: request.shippingAddress,
        }),
      );
      const orderId = request.orderId ?? randomUUID();
      const workflowId = workflowIdFor(orderId);
      const input: OrderSagaInput = {
        orderId,
        customerId: request.customerId,
        currency: request.currency ?? 'USD',
        items: request.items,
        shippingAddress: request.shippingAddress ?? null,
        paymentConfirmationThresholdCents: options.paymentConfirmationThresholdCents,
        paymentConfirmationTimeoutMs: options.paymentConfirmationTimeoutMs,
        correlationId: request.correlationId ?? randomUUID(),
        useLocalActivities: options.useLocalActivities,
        compensationMaxAttempts: options.compensationMaxAttempts,
        stepMaxAttempts: options.stepMaxAttempts,
      };
      const customerRef = await personal.reference(input.customerId);
      if (customerRef !== undefined) input.customerRef = customerRef;
      // The event store keeps the order for longer than Temporal keeps its saga: an order id it
      // holds is answered from it, and no second saga is started (docs/saga.md).
      if (request.orderId !== undefined && options.orderRecords) {
        // With the store unreachable (an outage), orders are still taken: Temporal's duplicate
        // check holds while it keeps the saga, and the create step refuses an order stored
        // with other content before any effect.
        const created = await options.orderRecords
          .readOrderCreation(orderId)
          .catch(() => undefined);
        if (created) {
          if (!sameOrderContent(created.content, input))
            throw new OrderContentConflictError(orderId);
          const runId =
            (await handleFor(orderId)
              .describe()
              .then((d) => d.runId)
              .catch((err: unknown) => {
                if (isNotFound(err)) return undefined; // deleted from Temporal, kept in the store
                throw err;
              })) ?? created.metadata.runId;
          return { orderId, workflowId, runId: runId ?? '', started: false };
        }
      }
      // The memo is encrypted with the payloads when a key is set; read back on a duplicate start.
      const startOptions = orderSagaStartOptions(input);
      const contentHash = startOptions.memo[ORDER_CONTENT_MEMO];
      try {
        const handle = await client.workflow.start(orderSaga, {
          workflowId,
          taskQueue: options.taskQueue,
          args: [
            {
              ...input,
              shippingAddress: (await personal.seal(
                input.customerId,
                'shipping_address',
                input.shippingAddress,
              )) as OrderSagaInput['shippingAddress'],
            },
          ],
          requestEagerStart: options.eagerStart,
          ...startOptions,
        });
        return { orderId, workflowId, runId: handle.firstExecutionRunId, started: true };
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) {
          // Running or closed, the saga of this id is answered only if it is the same order.
          const handle = handleFor(orderId);
          const description = await handle.describe();
          let existing = description.memo?.[ORDER_CONTENT_MEMO];
          if (typeof existing !== 'string') {
            // Started before the memo existed: hash the input its history recorded.
            const [first] = (await handle.fetchHistory()).events ?? [];
            const recorded = (await decodeFirstPayload(
              client.options.loadedDataConverter,
              first?.workflowExecutionStartedEventAttributes?.input?.payloads,
            )) as Partial<OrderSagaInput> | undefined;
            existing = Array.isArray(recorded?.items)
              ? orderContentHash({
                  ...(recorded as OrderSagaInput),
                  shippingAddress: (await personal.open(
                    recorded.customerId ?? '',
                    'shipping_address',
                    recorded.shippingAddress,
                  )) as OrderSagaInput['shippingAddress'],
                })
              : undefined;
          }
          if (existing !== contentHash) throw new OrderContentConflictError(orderId);
          return { orderId, workflowId, runId: description.runId, started: false };
        }
        throw err;
      }
    },

    state: (orderId: string): Promise<SagaState> =>
      withSaga(orderId, () => handleFor(orderId).query(sagaStateQuery)),

    /** `cancelled`: the order will end cancelled; `too late`: it is being or was confirmed. */
    cancel: (
      orderId: string,
      reason?: string,
      options: UpdateCallOptions = {},
    ): Promise<CancelOrderResult> =>
      runUpdate(orderId, () =>
        handleFor(orderId).executeUpdate(cancelOrderUpdate, {
          args: [reason === undefined ? {} : { reason }],
          updateId: options.updateId,
        }),
      ),

    /**
     * Confirms the payment the saga is waiting for, of `amountCents` (its current total).
     * Refused (PAYMENT_CONFIRMATION_NOT_AWAITED, PAYMENT_AMOUNT_MISMATCH) otherwise.
     */
    confirmPayment: (
      orderId: string,
      amountCents: number,
      options: UpdateCallOptions = {},
    ): Promise<ConfirmPaymentResult> =>
      runUpdate(orderId, () =>
        handleFor(orderId).executeUpdate(confirmPaymentUpdate, {
          args: [{ amountCents }],
          updateId: options.updateId,
        }),
      ),

    retryCompensation: (orderId: string) =>
      withSaga(orderId, () => handleFor(orderId).signal(retryCompensationSignal)),

    /** Gives up the saga's failed compensation `compensation` (see sagaState), with a reason. */
    skipCompensation: (
      orderId: string,
      compensation: string,
      reason: string,
      options: UpdateCallOptions = {},
    ): Promise<SkipCompensationResult> =>
      runUpdate(orderId, () =>
        handleFor(orderId).executeUpdate(skipCompensationUpdate, {
          args: [{ compensation, reason }],
          updateId: options.updateId,
        }),
      ),

    /**
     * Adds a line to a pending order (the saga's addItem update). Refusals carry a code:
     * ORDER_NOT_PENDING (payment started, or the saga is unwinding), INSUFFICIENT_STOCK (the
     * line comes after the reservation and its stock is short), INVALID_COMMAND,
     * TOO_MANY_ITEMS (the order has MAX_ITEMS_PER_ORDER lines), STEP_UNAVAILABLE (the database
     * stayed unreachable for the step's bound).
     */
    async addItem(
      orderId: string,
      line: OrderLine,
      options: UpdateCallOptions = {},
    ): Promise<AddItemResult> {
      parseOrThrow(checkOrderLine(line));
      return runUpdate(orderId, () =>
        handleFor(orderId).executeUpdate(addItemUpdate, {
          args: [line],
          updateId: options.updateId,
        }),
      );
    },

    describe: (orderId: string) => withSaga(orderId, () => handleFor(orderId).describe()),

    result: (orderId: string) => withSaga(orderId, () => handleFor(orderId).result()),

    /**
     * Runs `fn` with a deadline on every Temporal call it makes (the connection's async-local
     * call context), so a caller such as an HTTP request never waits on Temporal for longer.
     */
    withDeadline: <T>(deadline: number | Date, fn: () => Promise<T>): Promise<T> =>
      client.connection.withDeadline(deadline, fn),
  };
}

export type OrderClient = ReturnType<typeof createOrderClient>;
