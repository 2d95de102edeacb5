// The saga's activities: each loads one aggregate, decides, and appends with the version it
// loaded. Event ids derive from the workflow run, the activity and the stream, so a retried
// activity rewrites nothing. Business refusals become non-retryable ApplicationFailures whose
// type is the domain error code.
import { Context } from '@temporalio/activity';
import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import { v5 as uuidv5 } from 'uuid';
import { CreditDecider } from '../domain/credit';
import { InventoryDecider } from '../domain/inventory';
import { OrderDecider, type OrderLine } from '../domain/order';
import { DomainError, type Decider, type DomainEvent } from '../domain/shared';
import { type EventMetadata, type EventStore, handleCommand } from '../eventstore';
import { currentTraceId, tagCorrelationId } from '../observability/trace-context';

/** Namespace for event ids derived by activities (uuid v5). */
const EVENT_ID_NAMESPACE = '3f0c0a8e-2b7c-4a51-9a57-6f3f1f0e6c21';

export interface ActivityDeps {
  store: EventStore;
}

interface Correlated {
  correlationId: string;
}

export function createOrderActivities({ store }: ActivityDeps) {
  async function run<S, C, E extends DomainEvent>(
    decider: Decider<S, C, E>,
    id: string,
    command: C,
    correlationId: string,
    options: { appendsAlways?: boolean; expectNew?: boolean } = {},
  ): Promise<void> {
    const { activityId, workflowExecution } = Context.current().info;
    const workflowId = workflowExecution?.workflowId ?? 'none';
    const runId = workflowExecution?.runId ?? 'none';
    const origin = `${workflowId}/${runId}/${activityId}`;
    // With tracing on, each event leads back to its trace (and the span to its correlation id).
    tagCorrelationId(correlationId);
    const traceId = currentTraceId();
    const metadata: EventMetadata = {
      correlationId,
      causationId: origin,
      workflowId,
      runId,
      activityId,
      ...(traceId ? { traceId } : {}),
    };
    const eventId = (i: number) =>
      uuidv5(`${origin}/${decider.aggregateType}-${id}/${i}`, EVENT_ID_NAMESPACE);
    // A command the state cannot recognise as done (adding a line appends one every time) is
    // recognised by its first event id: stored means an earlier attempt committed it.
    if (options.appendsAlways && (await store.hasEvent(eventId(0)))) return;
    try {
      await handleCommand(store, decider, id, command, {
        metadata,
        eventId,
        expectNew: options.expectNew,
      });
    } catch (err) {
      if (err instanceof DomainError) {
        // Benign: a refusal is an expected outcome of the saga, not an error to log or alert on.
        throw ApplicationFailure.create({
          message: err.message,
          type: err.code,
          details: [err.details],
          nonRetryable: true,
          category: ApplicationFailureCategory.BENIGN,
        });
      }
      throw err;
    }
  }
  const now = () => new Date().toISOString();

  return {
    async createOrder(
      input: Correlated & {
        orderId: string;
        customerId: string;
        currency: string;
        items: OrderLine[];
        shippingAddress: Record<string, unknown> | null;
      },
    ): Promise<void> {
      await run(
        OrderDecider,
        input.orderId,
        {
          type: 'CreateOrder',
          orderId: input.orderId,
          customerId: input.customerId,
          currency: input.currency,
          lines: input.items,
          shippingAddress: input.shippingAddress,
          now: now(),
        },
        input.correlationId,
        // A new order id: no load before the append (a retry finds its own events and loads).
        { expectNew: true },
      );
    },

    /** Appends OrderItemAdded; refused (ORDER_NOT_PENDING) unless the order is pending. */
    async addItem(input: Correlated & { orderId: string; line: OrderLine }): Promise<void> {
      await run(
        OrderDecider,
        input.orderId,
        { type: 'AddItem', line: input.line, now: now() },
        input.correlationId,
        { appendsAlways: true },
      );
    },

    /** Makes the order hold `quantity` units of the product in total (reserves the difference). */
    async reserveInventory(
      input: Correlated & { orderId: string; productId: string; quantity: number },
    ): Promise<void> {
      await run(
        InventoryDecider,
        input.productId,
        { type: 'Reserve', ...input, now: now() },
        input.correlationId,
      );
    },

    async releaseInventory(
      input: Correlated & { orderId: string; productId: string },
    ): Promise<void> {
      await run(
        InventoryDecider,
        input.productId,
        { type: 'ReleaseReservation', ...input, now: now() },
        input.correlationId,
      );
    },

    async chargePayment(
      input: Correlated & { orderId: string; customerId: string; amountCents: number },
    ): Promise<void> {
      await run(
        CreditDecider,
        input.customerId,
        {
          type: 'ChargePayment',
          customerId: input.customerId,
          orderId: input.orderId,
          cents: input.amountCents,
          now: now(),
        },
        input.correlationId,
      );
    },

    async refundPayment(
      input: Correlated & { orderId: string; customerId: string },
    ): Promise<void> {
      await run(
        CreditDecider,
        input.customerId,
        { type: 'RefundPayment', ...input, now: now() },
        input.correlationId,
      );
    },

    /** Commits each product's reservation, then completes the order (OrderCompleted). */
    async confirmOrder(
      input: Correlated & { orderId: string; productIds: string[] },
    ): Promise<void> {
      for (const productId of input.productIds) {
        await run(
          InventoryDecider,
          productId,
          { type: 'CommitReservation', productId, orderId: input.orderId, now: now() },
          input.correlationId,
        );
      }
      await run(
        OrderDecider,
        input.orderId,
        { type: 'CompleteOrder', now: now() },
        input.correlationId,
      );
    },

    /** The compensation of createOrder: nothing to cancel when the order was never created. */
    async cancelOrder(input: Correlated & { orderId: string; reason: string }): Promise<void> {
      try {
        await run(
          OrderDecider,
          input.orderId,
          { type: 'CancelOrder', reason: input.reason, now: now() },
          input.correlationId,
        );
      } catch (err) {
        if (err instanceof ApplicationFailure && err.type === 'ORDER_NOT_FOUND') return;
        throw err;
      }
    },
  };
}

export type OrderActivities = ReturnType<typeof createOrderActivities>;
