// Starts and talks to order sagas through the Temporal client; shared by the CLI and the API.
import { randomUUID } from 'node:crypto';
import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { validateLine, type OrderLine } from '../domain/order';
import { DomainError } from '../domain/shared';
import {
  cancelOrderSignal,
  confirmPaymentSignal,
  retryCompensationSignal,
  sagaStateQuery,
} from '../workflows/messages';
import { type OrderSagaInput, type SagaState, workflowIdFor } from '../workflows/types';

export interface OrderClientOptions {
  taskQueue: string;
  paymentConfirmationThresholdCents: number;
  paymentConfirmationTimeoutMs: number;
  useLocalActivities?: boolean;
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

export function createOrderClient(client: Client, options: OrderClientOptions) {
  const handleFor = (orderId: string) => client.workflow.getHandle(workflowIdFor(orderId));

  /** Maps "no such workflow" to OrderNotFoundError; Temporal's error class does not survive everywhere. */
  async function withSaga<T>(orderId: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (
        err instanceof WorkflowNotFoundError ||
        (err as Error)?.name === 'WorkflowNotFoundError'
      ) {
        throw new OrderNotFoundError(orderId);
      }
      throw err;
    }
  }

  return {
    async start(request: StartOrderRequest): Promise<StartedOrder> {
      if (request.items.length === 0) {
        throw new DomainError('INVALID_COMMAND', 'an order needs at least one item');
      }
      request.items.forEach(validateLine);
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
      };
      try {
        const handle = await client.workflow.start('orderSaga', {
          workflowId,
          taskQueue: options.taskQueue,
          args: [input],
          // A second start of the same order never starts a second saga.
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
        });
        return { orderId, workflowId, runId: handle.firstExecutionRunId, started: true };
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) {
          const description = await handleFor(orderId).describe();
          return { orderId, workflowId, runId: description.runId, started: false };
        }
        throw err;
      }
    },

    state: (orderId: string): Promise<SagaState> =>
      withSaga(orderId, () => handleFor(orderId).query(sagaStateQuery)),

    cancel: (orderId: string, reason?: string) =>
      withSaga(orderId, () => handleFor(orderId).signal(cancelOrderSignal, reason)),

    confirmPayment: (orderId: string) =>
      withSaga(orderId, () => handleFor(orderId).signal(confirmPaymentSignal)),

    retryCompensation: (orderId: string) =>
      withSaga(orderId, () => handleFor(orderId).signal(retryCompensationSignal)),

    describe: (orderId: string) => withSaga(orderId, () => handleFor(orderId).describe()),

    result: (orderId: string) => withSaga(orderId, () => handleFor(orderId).result()),
  };
}

export type OrderClient = ReturnType<typeof createOrderClient>;
