// The saga bench's peer: the same four steps as orderSaga (create, reserve, pay, confirm), each
// deciding on the same aggregates and appending the same events to the same event store, as a
// DBOS Transact workflow whose durability lives in a Postgres system database beside it.
import { DBOS } from '@dbos-inc/dbos-sdk';
import { v5 as uuidv5 } from 'uuid';
import { CreditDecider } from '../../domain/credit';
import { InventoryDecider } from '../../domain/inventory';
import { OrderDecider, orderTotalCents, type OrderLine } from '../../domain/order';
import type { Decider, DomainEvent } from '../../domain/shared';
import { handleCommand } from '../../application';
import type { EventStore } from '../../eventstore';

const EVENT_ID_NAMESPACE = 'a4d3c2a0-6f0e-4c0e-9a55-4f5d3b1e7c10';

export interface DbosOrder {
  orderId: string;
  customerId: string;
  items: OrderLine[];
  correlationId: string;
}

export interface DbosSaga {
  execute(order: DbosOrder): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * Launches DBOS against `systemDatabaseUrl` (created and migrated on launch; no network beyond
 * Postgres is needed) with one workflow registered. DBOS is a process-wide singleton.
 */
export async function launchDbosSaga(
  store: EventStore,
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

  DBOS.setConfig({ name: 'saga-bench', systemDatabaseUrl, logLevel: 'error' });
  await DBOS.launch();
  return {
    async execute(order) {
      const handle = await DBOS.startWorkflow(orderWorkflow, {
        workflowID: `dbos-${order.orderId}`,
      })(order);
      await handle.getResult();
    },
    shutdown: () => DBOS.shutdown(),
  };
}
