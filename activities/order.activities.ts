// The saga's activities: each loads one aggregate, decides, and appends with the version it
// loaded. Event ids derive from the workflow id, the saga's step and the stream (not the run),
// so a retried activity rewrites nothing and a new run after a Temporal reset recognises the
// steps its earlier run did. Business refusals become non-retryable ApplicationFailures whose
// type is the domain error code.
import { Context } from '@temporalio/activity';
import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import { v5 as uuidv5 } from 'uuid';
import { CreditDecider } from '../domain/credit';
import { InventoryDecider } from '../domain/inventory';
import { OrderDecider, type OrderLine } from '../domain/order';
import { DomainError, type Decider, type DomainEvent } from '../domain/shared';
import {
  AggregateCache,
  DEFAULT_AGGREGATE_CACHE_SIZE,
  handleCommand,
  type HandleResult,
  readOrderCreation,
  sameOrderContent,
} from '../application';
import {
  EventIdConflictError,
  StreamTombstonedError,
  type EventMetadata,
  type EventStore,
} from '../eventstore';
import { currentTraceId, tagCorrelationId } from '../observability/trace-context';
import { clearPersonalData, type PersonalData } from '../keys/personal-data';

/** Namespace for event ids derived by activities (uuid v5). */
const EVENT_ID_NAMESPACE = '3f0c0a8e-2b7c-4a51-9a57-6f3f1f0e6c21';

export interface ActivityDeps {
  store: EventStore;
  /**
   * Aggregates kept folded in memory to skip their next load (AGGREGATE_CACHE_SIZE; default
   * 10,000; 0 turns the cache off).
   */
  aggregateCacheSize?: number;
  /** Opens sealed shipping addresses to compare a reused order id's content (keys/personal-data.ts). */
  personalData?: PersonalData;
}

interface Correlated {
  correlationId: string;
  /**
   * The saga's step (`create_order`, `reserve:SKU`, `charge`...): with the workflow id it
   * names the effect. Sagas started before steps were named leave it out and get ids from
   * their run and activity id, as they did then.
   */
  step?: string;
}

/** The first event id a step writes to a stream (uuid v5): the step's proof of having run. */
export function stepEventId(
  workflowId: string,
  step: string,
  aggregateType: string,
  aggregateId: string,
  index = 0,
): string {
  return uuidv5(
    `${workflowId}/${step}/${aggregateType}-${aggregateId}/${index}`,
    EVENT_ID_NAMESPACE,
  );
}

export function createOrderActivities({
  store,
  aggregateCacheSize,
  personalData = clearPersonalData,
}: ActivityDeps) {
  const size = aggregateCacheSize ?? DEFAULT_AGGREGATE_CACHE_SIZE;
  const cache = size > 0 ? new AggregateCache(size) : undefined;
  function origin(step: string | undefined) {
    const { activityId, workflowExecution } = Context.current().info;
    const workflowId = workflowExecution?.workflowId ?? 'none';
    const runId = workflowExecution?.runId ?? 'none';
    // With tracing on, each event leads back to its trace.
    const traceId = currentTraceId();
    const metadata: EventMetadata = {
      correlationId: '',
      causationId: step ? `${workflowId}/${step}` : `${workflowId}/${runId}/${activityId}`,
      workflowId,
      runId,
      activityId,
      ...(traceId ? { traceId } : {}),
    };
    const eventId = (type: string, id: string) => (i: number) =>
      step
        ? stepEventId(workflowId, step, type, id, i)
        : uuidv5(`${metadata.causationId}/${type}-${id}/${i}`, EVENT_ID_NAMESPACE);
    return { workflowId, metadata, eventId };
  }

  async function run<S, C, E extends DomainEvent>(
    decider: Decider<S, C, E>,
    id: string,
    command: C,
    input: Correlated,
    options: { appendsAlways?: boolean; expectNew?: boolean; doneIfStored?: boolean } = {},
  ): Promise<HandleResult<S, E> | undefined> {
    const from = origin(input.step);
    const metadata = { ...from.metadata, correlationId: input.correlationId };
    // With tracing on, the activity's span carries the correlation id.
    tagCorrelationId(input.correlationId);
    const eventId = from.eventId(decider.aggregateType, id);
    // Most steps are recognised as done by the state they left (a charge by the payment, a
    // create or a complete by its stored first event when refused). Two are not: a line is
    // appended every time, and a reservation since committed or released (the saga was reset
    // after it) would be taken again. Both decide again and find their first event id taken
    // (the append writes nothing): that id proves the step ran. Looking it up before deciding
    // would cost every first run a query.
    const doneIfFirstStored = options.appendsAlways || (options.doneIfStored && !!input.step);
    try {
      return await handleCommand(store, decider, id, command, {
        metadata,
        eventId,
        expectNew: options.expectNew,
        cache,
        // A cancelled attempt (the saga cancelled, the worker shutting down) stops between
        // queries instead of running on after nobody waits for it.
        signal: Context.current().cancellationSignal,
      });
    } catch (err) {
      if (
        doneIfFirstStored &&
        err instanceof EventIdConflictError &&
        err.eventIds.includes(eventId(0))
      ) {
        return undefined;
      }
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
      if (err instanceof StreamTombstonedError) {
        // Retention closed this stream for good: its id is never written again. For an Order
        // that is a reused order id; the saga ends without effects, as for any refusal.
        throw ApplicationFailure.create({
          message: err.message,
          type: decider.aggregateType === 'Order' ? 'ORDER_ALREADY_EXISTS' : err.code,
          nonRetryable: true,
          category: ApplicationFailureCategory.BENIGN,
        });
      }
      throw err;
    }
  }
  const now = () => new Date().toISOString();

  /**
   * Whose order the create step's event proves: not this run's when its create was refused
   * (the event is an earlier saga's of the same workflow id). Keyed by run: a reset run
   * decides again.
   */
  function createRefusedEventId(createStep: string, orderId: string): string {
    const { workflowId } = origin(undefined);
    const { runId } = Context.current().info.workflowExecution ?? {};
    return stepEventId(
      workflowId,
      `${createStep}:refused:${runId ?? 'none'}`,
      'OrderSaga',
      orderId,
    );
  }

  /** Kept in the saga's own stream, which no projection reads: it moves nothing. */
  async function recordCreateRefused(input: Correlated & { orderId: string }): Promise<void> {
    const eventId = createRefusedEventId(input.step ?? 'create_order', input.orderId);
    if (await store.hasEvent(eventId)) return; // a retry after the commit
    const from = origin(input.step);
    await store.appendToStream(
      { type: 'OrderSaga', id: input.orderId },
      'any',
      [
        {
          eventId,
          type: 'OrderCreateRefused',
          data: { order_id: input.orderId, reason: 'ORDER_ALREADY_EXISTS', created_at: now() },
        },
      ],
      { metadata: { ...from.metadata, correlationId: input.correlationId } },
    );
  }

  /**
   * Whether this saga's create step wrote the order's first event. A saga started by a release
   * before step-named ids (afbf374 and older) created its order with an id from its run and
   * activity id: its run wrote the order when the first event's metadata names this workflow
   * and this run without a step (its causation is `workflowId/runId/activityId`). Both forms
   * are accepted, so an old saga's cancellation still cancels.
   */
  async function createdByThisSaga(orderId: string, createStep: string): Promise<boolean> {
    const { workflowId, metadata } = origin(createStep);
    if (await store.hasEvent(stepEventId(workflowId, createStep, 'Order', orderId))) return true;
    // Only read when the step's id is missing: an old saga's, or an order this saga did not make.
    const [first] = await store.readStream({ type: 'Order', id: orderId });
    if (!first) return false;
    const by = first.metadata;
    return (
      by.workflowId === workflowId &&
      by.runId === metadata.runId &&
      by.causationId === `${workflowId}/${metadata.runId}/${by.activityId}`
    );
  }

  /** One product's reservation step; skipped when the step's first event is stored. */
  async function reserve(
    orderId: string,
    { productId, quantity }: { productId: string; quantity: number },
    step: Correlated,
  ): Promise<void> {
    await run(
      InventoryDecider,
      productId,
      { type: 'Reserve', orderId, productId, quantity, now: now() },
      step,
      { doneIfStored: true },
    );
  }

  return {
    /**
     * Creates the order. An order already stored whose first event is this step's counts as
     * created (a retry, a new run after a reset) only if it is this order: the same workflow id
     * after Temporal forgot the saga (retention, a deleted workflow) may come with other items,
     * and is refused (ORDER_ALREADY_EXISTS, non-retryable) before the saga reserves anything.
     */
    async createOrder(
      input: Correlated & {
        orderId: string;
        customerId: string;
        currency: string;
        items: OrderLine[];
        shippingAddress: Record<string, unknown> | null;
      },
    ): Promise<void> {
      const result = await run(
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
        input,
        // A new order id: no load before the append (a retry finds its own events and loads).
        { expectNew: true },
      );
      // Events returned: this call wrote them (or met its own identical append). None: the
      // order was found stored with this step's first event id.
      if (result && result.events.length > 0) return;
      const created = await readOrderCreation(store, input.orderId, personalData);
      const address = await personalData.open(
        input.customerId,
        'shipping_address',
        input.shippingAddress,
      );
      if (
        !created ||
        sameOrderContent(created.content, {
          ...input,
          shippingAddress: address as Record<string, unknown> | null,
        })
      )
        return;
      await recordCreateRefused(input);
      throw ApplicationFailure.create({
        message:
          `order ${input.orderId} exists with other content (customer, currency, items or ` +
          'shipping address): this saga reuses its order id',
        type: 'ORDER_ALREADY_EXISTS',
        details: [{ orderId: input.orderId }],
        nonRetryable: true,
        category: ApplicationFailureCategory.BENIGN,
      });
    },

    /** Appends OrderItemAdded; refused (ORDER_NOT_PENDING) unless the order is pending. */
    async addItem(input: Correlated & { orderId: string; line: OrderLine }): Promise<void> {
      await run(
        OrderDecider,
        input.orderId,
        { type: 'AddItem', line: input.line, now: now() },
        input,
        { appendsAlways: true },
      );
    },

    /** Makes the order hold `quantity` units of the product in total (reserves the difference). */
    async reserveInventory(
      input: Correlated & { orderId: string; productId: string; quantity: number },
    ): Promise<void> {
      await reserve(input.orderId, input, input);
    },

    /**
     * Reserves every product of the order, one after the other, in one activity (one trip
     * through the worker instead of one per product). Each product is its own step
     * (`reserve:SKU`), as with reserveInventory: a retry, or a new run after a reset, skips the
     * products already reserved. The saga registers every product's release before it calls.
     */
    async reserveInventoryItems(
      input: Correlated & { orderId: string; items: { productId: string; quantity: number }[] },
    ): Promise<void> {
      for (const item of input.items) {
        await reserve(input.orderId, item, {
          correlationId: input.correlationId,
          step: `reserve:${item.productId}`,
        });
      }
    },

    async releaseInventory(
      input: Correlated & { orderId: string; productId: string },
    ): Promise<void> {
      await run(
        InventoryDecider,
        input.productId,
        { type: 'ReleaseReservation', ...input, now: now() },
        input,
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
        input,
      );
    },

    async refundPayment(
      input: Correlated & { orderId: string; customerId: string },
    ): Promise<void> {
      await run(
        CreditDecider,
        input.customerId,
        { type: 'RefundPayment', ...input, now: now() },
        input,
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
          input,
        );
      }
      await run(OrderDecider, input.orderId, { type: 'CompleteOrder', now: now() }, input);
    },

    /**
     * The compensation of createOrder: nothing to cancel when the order was never created, and
     * nothing this saga may cancel when another saga (or another order's client) created it.
     * `createdByStep` names the saga's create step, whose event proves the order is its own.
     */
    async cancelOrder(
      input: Correlated & { orderId: string; reason: string; createdByStep?: string },
    ): Promise<void> {
      if (input.createdByStep) {
        if (!(await createdByThisSaga(input.orderId, input.createdByStep))) return;
        // Created by an earlier saga of this workflow id, whose content this run's create refused.
        if (await store.hasEvent(createRefusedEventId(input.createdByStep, input.orderId))) return;
      }
      try {
        await run(
          OrderDecider,
          input.orderId,
          { type: 'CancelOrder', reason: input.reason, now: now() },
          input,
        );
      } catch (err) {
        if (err instanceof ApplicationFailure && err.type === 'ORDER_NOT_FOUND') return;
        throw err;
      }
    },

    /**
     * An operator gave up a compensation (skipCompensation): the decision, its reason and the
     * error it answers are kept in the saga's own stream (`OrderSaga`), which no projection reads.
     */
    async recordCompensationSkipped(
      input: Correlated & {
        orderId: string;
        compensation: string;
        reason: string;
        error: string | null;
      },
    ): Promise<void> {
      const from = origin(input.step);
      const eventId = from.eventId('OrderSaga', input.orderId)(0);
      if (await store.hasEvent(eventId)) return; // a retry after the commit
      await store.appendToStream(
        { type: 'OrderSaga', id: input.orderId },
        'any',
        [
          {
            eventId,
            type: 'CompensationSkipped',
            data: {
              order_id: input.orderId,
              compensation: input.compensation,
              reason: input.reason,
              error: input.error,
              created_at: now(),
            },
          },
        ],
        { metadata: { ...from.metadata, correlationId: input.correlationId } },
      );
    },
  };
}

export type OrderActivities = ReturnType<typeof createOrderActivities>;
