// The saga bench's peer: the same four steps as orderSaga (create, reserve, pay, confirm) as a
// DBOS Transact workflow whose durability lives in a Postgres system database beside it, twice:
// - with our command path: each step decides on the same aggregates and appends the same events
//   to the same event store through handleCommand (the same work as orderSaga's activities);
// - with raw appends: each step is the single optimistic-concurrency INSERT a DBOS user would
//   write by hand (raw-append.ts), the five appends of the saga on the same streams.
import { DBOS } from '@dbos-inc/dbos-sdk';
import type { Pool } from 'pg';
import { v5 as uuidv5 } from 'uuid';
import { CreditDecider, type CreditEvent } from '../../domain/credit';
import { InventoryDecider, type InventoryEvent } from '../../domain/inventory';
import { OrderDecider, orderTotalCents, type OrderEvent, type OrderLine } from '../../domain/order';
import type { Decider, DomainEvent } from '../../domain/shared';
import { handleCommand } from '../../application';
import type { EventStore } from '../../eventstore';
import { rawAppend, type RawStream } from './raw-append';

const EVENT_ID_NAMESPACE = 'a4d3c2a0-6f0e-4c0e-9a55-4f5d3b1e7c10';

export interface DbosOrder {
  orderId: string;
  customerId: string;
  items: OrderLine[];
  correlationId: string;
}

export interface DbosSaga {
  /** The four steps through handleCommand. */
  execute(order: DbosOrder): Promise<void>;
  /** The same steps as five raw optimistic-concurrency INSERTs. */
  executeRaw(order: DbosOrder): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * Launches DBOS against `systemDatabaseUrl` (created and migrated on launch; no network beyond
 * Postgres is needed) with both workflows registered: DBOS is a process-wide singleton that
 * takes its workflows before launch. `pool` is the event store's database, for the raw appends.
 */
export async function launchDbosSaga(
  store: EventStore,
  pool: Pool,
  systemDatabaseUrl: string,
): Promise<DbosSaga> {
  async function step<S, C, E extends DomainEvent>(
    name: string,
    decider: Decider<S, C, E>,
    id: string,
    command: C,
    correlationId: string,
    expectNew = false,
  ): Promise<void> {
    await DBOS.runStep(
      async () => {
        const workflowId = DBOS.workflowID ?? 'none';
        const origin = `${workflowId}/${name}`;
        await handleCommand(store, decider, id, command, {
          metadata: { correlationId, causationId: origin, workflowId, runId: workflowId },
          eventId: (i) =>
            uuidv5(`${origin}/${decider.aggregateType}-${id}/${i}`, EVENT_ID_NAMESPACE),
          expectNew,
        });
      },
      { name },
    );
  }
  const now = () => new Date().toISOString();

  const orderWorkflow = DBOS.registerWorkflow(
    async (order: DbosOrder): Promise<void> => {
      const { orderId, customerId, items, correlationId } = order;
      await step(
        'createOrder',
        OrderDecider,
        orderId,
        {
          type: 'CreateOrder',
          orderId,
          customerId,
          currency: 'USD',
          lines: items,
          shippingAddress: null,
          now: now(),
        },
        correlationId,
        true,
      );
      const [line] = items;
      if (!line || items.length !== 1) throw new Error('the DBOS baseline takes one line');
      await step(
        'reserveInventory',
        InventoryDecider,
        line.productId,
        {
          type: 'Reserve',
          orderId,
          productId: line.productId,
          quantity: line.quantity,
          now: now(),
        },
        correlationId,
      );
      await step(
        'chargePayment',
        CreditDecider,
        customerId,
        {
          type: 'ChargePayment',
          customerId,
          orderId,
          cents: orderTotalCents(items),
          now: now(),
        },
        correlationId,
      );
      // orderSaga's confirm step: commit the reservation, then complete the order, in one step.
      await DBOS.runStep(
        async () => {
          const workflowId = DBOS.workflowID ?? 'none';
          const origin = `${workflowId}/confirmOrder`;
          const metadata = { correlationId, causationId: origin, workflowId, runId: workflowId };
          const eventId = (stream: string) => (i: number) =>
            uuidv5(`${origin}/${stream}/${i}`, EVENT_ID_NAMESPACE);
          await handleCommand(
            store,
            InventoryDecider,
            line.productId,
            { type: 'CommitReservation', productId: line.productId, orderId, now: now() },
            { metadata, eventId: eventId(`Inventory-${line.productId}`) },
          );
          await handleCommand(
            store,
            OrderDecider,
            orderId,
            { type: 'CompleteOrder', now: now() },
            { metadata, eventId: eventId(`Order-${orderId}`) },
          );
        },
        { name: 'confirmOrder' },
      );
    },
    { name: 'dbosOrderSaga' },
  );

  const rawOrderWorkflow = DBOS.registerWorkflow(
    async (order: DbosOrder): Promise<void> => {
      const { orderId, customerId, items, correlationId } = order;
      const [line] = items;
      if (!line || items.length !== 1) throw new Error('the DBOS baseline takes one line');
      const { productId, quantity, unitPriceCents } = line;
      const orderStream = { type: 'Order', id: orderId };
      const inventory = { type: 'Inventory', id: productId };
      const append = (step: string, stream: RawStream, events: DomainEvent[]) =>
        rawAppend(pool, step, stream, events, correlationId);
      const at = now();
      const created: OrderEvent[] = [
        {
          type: 'OrderCreated',
          data: {
            order_id: orderId,
            customer_id: customerId,
            currency: 'USD',
            shipping_address: null,
            created_at: at,
          },
        },
        {
          type: 'OrderItemAdded',
          data: {
            order_id: orderId,
            product_id: productId,
            quantity,
            unit_price: unitPriceCents,
            tax_amount: 0,
            created_at: at,
          },
        },
      ];
      await DBOS.runStep(() => append('createOrder', { ...orderStream, isNew: true }, created), {
        name: 'createOrder',
      });
      const held = { product_id: productId, order_id: orderId, quantity, created_at: now() };
      const reserved: InventoryEvent = { type: 'StockReserved', data: held };
      await DBOS.runStep(() => append('reserveInventory', inventory, [reserved]), {
        name: 'reserveInventory',
      });
      const cents = orderTotalCents(items);
      const charged: CreditEvent = {
        type: 'PaymentCharged',
        data: { customer_id: customerId, order_id: orderId, cents, created_at: now() },
      };
      await DBOS.runStep(
        () => append('chargePayment', { type: 'CustomerCredit', id: customerId }, [charged]),
        { name: 'chargePayment' },
      );
      // As above: commit the reservation, then complete the order, in one step.
      await DBOS.runStep(
        async () => {
          const committed: InventoryEvent = {
            type: 'ReservationCommitted',
            data: { ...held, created_at: now() },
          };
          await append('confirmOrder', inventory, [committed]);
          const completed: OrderEvent = {
            type: 'OrderCompleted',
            data: { order_id: orderId, total_amount: cents, currency: 'USD', created_at: now() },
          };
          await append('confirmOrder', orderStream, [completed]);
        },
        { name: 'confirmOrder' },
      );
    },
    { name: 'dbosRawOrderSaga' },
  );

  DBOS.setConfig({ name: 'saga-bench', systemDatabaseUrl, logLevel: 'error' });
  await DBOS.launch();
  return {
    async execute(order) {
      const handle = await DBOS.startWorkflow(orderWorkflow, {
        workflowID: `dbos-${order.orderId}`,
      })(order);
      await handle.getResult();
    },
    async executeRaw(order) {
      const handle = await DBOS.startWorkflow(rawOrderWorkflow, {
        workflowID: `dbos-raw-${order.orderId}`,
      })(order);
      await handle.getResult();
    },
    shutdown: () => DBOS.shutdown(),
  };
}
