// The saga's invariants, checked over every event in a test database once the sagas have
// finished: stock never below zero and available + reserved = on_hand, nothing left
// reserved, credit restored after refunds, and no business effect written twice.
import type { RecordedEvent } from '../eventstore';
import type { TestEventStore } from './harness';

export interface SagaLedger {
  events: RecordedEvent[];
  /** Final status per order id: 'pending' | 'completed' | 'cancelled'. */
  orders: Map<string, { status: string; customerId: string; totalCents: number; reason?: string }>;
  /** Per product: the final on_hand, reserved and available, and the lowest available seen. */
  stock: Map<string, { onHand: number; reserved: number; available: number; lowest: number }>;
  /** Per customer: granted, available and spent cents. */
  credit: Map<string, { granted: number; available: number; spent: number }>;
}

/**
 * Every event, stream by stream. Not readAllFrom: its gap-free bound may still hold back the
 * newest commits while another transaction is open, and the checks here need them all.
 */
export async function readAllEvents(store: TestEventStore): Promise<RecordedEvent[]> {
  const streams = await store.db
    .selectFrom('domain_events')
    .select(['aggregate_type', 'aggregate_id'])
    .distinct()
    .orderBy('aggregate_type')
    .orderBy('aggregate_id')
    .execute();
  const events: RecordedEvent[] = [];
  for (const s of streams) {
    events.push(...(await store.readStream({ type: s.aggregate_type, id: s.aggregate_id })));
  }
  return events;
}

type Data = Record<string, unknown> & { order_id?: string };

/** Folds every event into a ledger and returns it with the violations found (none expected). */
export async function checkSagaInvariants(
  store: TestEventStore,
): Promise<{ ledger: SagaLedger; violations: string[] }> {
  const events = await readAllEvents(store);
  const violations: string[] = [];
  const ledger: SagaLedger = { events, orders: new Map(), stock: new Map(), credit: new Map() };
  const once = new Set<string>();
  const onlyOnce = (key: string) => {
    if (once.has(key)) violations.push(`written twice: ${key}`);
    once.add(key);
  };
  const eventIds = new Set(events.map((e) => e.eventId));
  if (eventIds.size !== events.length) violations.push('duplicate event ids');

  // Units an order holds per product, and what was committed for completed orders.
  const held = new Map<string, number>();
  const committed = new Map<string, number>();
  const orderQuantities = new Map<string, number>();
  const charged = new Map<string, number>();
  const refunded = new Set<string>();
  const skippedReleases = new Set<string>();
  const skippedRefunds = new Set<string>();

  for (const event of events) {
    const data = event.data as Data;
    const id = event.streamId;
    switch (event.type) {
      case 'OrderCreated':
        onlyOnce(`OrderCreated ${id}`);
        ledger.orders.set(id, {
          status: 'pending',
          customerId: String(data.customer_id),
          totalCents: 0,
        });
        break;
      case 'OrderItemAdded': {
        const order = ledger.orders.get(id)!;
        order.totalCents += Number(data.unit_price) * Number(data.quantity);
        const key = `${id}/${String(data.product_id)}`;
        orderQuantities.set(key, (orderQuantities.get(key) ?? 0) + Number(data.quantity));
        break;
      }
      case 'OrderCompleted':
      case 'OrderCancelled': {
        onlyOnce(`order end ${id}`);
        const order = ledger.orders.get(id)!;
        order.status = event.type === 'OrderCompleted' ? 'completed' : 'cancelled';
        if (event.type === 'OrderCancelled') order.reason = String(data.reason);
        break;
      }
      case 'StockRestocked':
      case 'StockReserved':
      case 'ReservationCommitted':
      case 'ReservationReleased': {
        const s = ledger.stock.get(id) ?? { onHand: 0, reserved: 0, available: 0, lowest: 0 };
        const quantity = Number(data.quantity);
        const key = `${String(data.order_id)}/${id}`;
        if (event.type === 'StockRestocked') {
          s.onHand += quantity;
          s.available += quantity;
        } else if (event.type === 'StockReserved') {
          s.reserved += quantity;
          s.available -= quantity;
          held.set(key, (held.get(key) ?? 0) + quantity);
        } else {
          onlyOnce(`reservation end ${key}`);
          if (held.get(key) !== quantity) {
            violations.push(`${event.type} ${key}: ${quantity} but ${held.get(key)} held`);
          }
          held.delete(key);
          s.reserved -= quantity;
          if (event.type === 'ReservationCommitted') {
            s.onHand -= quantity;
            committed.set(key, quantity);
          } else s.available += quantity;
        }
        s.lowest = Math.min(s.lowest, s.available);
        if (s.available < 0 || s.reserved < 0) violations.push(`stock below zero for ${id}`);
        if (s.available + s.reserved !== s.onHand) {
          violations.push(`available + reserved != on_hand for ${id}`);
        }
        ledger.stock.set(id, s);
        break;
      }
      case 'CreditGranted':
      case 'PaymentCharged':
      case 'PaymentRefunded': {
        const c = ledger.credit.get(id) ?? { granted: 0, available: 0, spent: 0 };
        const cents = Number(data.cents);
        if (event.type === 'CreditGranted') {
          c.granted += cents;
          c.available += cents;
        } else if (event.type === 'PaymentCharged') {
          onlyOnce(`PaymentCharged ${String(data.order_id)}`);
          charged.set(String(data.order_id), cents);
          c.available -= cents;
          c.spent += cents;
        } else {
          onlyOnce(`PaymentRefunded ${String(data.order_id)}`);
          refunded.add(String(data.order_id));
          c.available += cents;
          c.spent -= cents;
        }
        if (c.available < 0) violations.push(`credit below zero for ${id}`);
        ledger.credit.set(id, c);
        break;
      }
      case 'CompensationSkipped': {
        // An operator's decision (skipCompensation): it moves nothing, and what the skipped
        // compensation would have undone is excused from the checks below.
        const name = String(data.compensation);
        if (name.startsWith('releaseInventory:')) {
          skippedReleases.add(`${String(data.order_id)}/${name.slice('releaseInventory:'.length)}`);
        } else if (name === 'refundPayment') skippedRefunds.add(String(data.order_id));
        break;
      }
      case 'OrderCreateRefused':
        // A saga that reused an order id stopped at its create step: it moves nothing.
        break;
      default:
        violations.push(`unknown event type ${event.type}`);
    }
  }

  for (const [key, quantity] of held) {
    if (!skippedReleases.has(key)) violations.push(`still reserved: ${key} (${quantity})`);
  }
  for (const [orderId, order] of ledger.orders) {
    if (order.status === 'pending') violations.push(`order ${orderId} never finished`);
    const paid = charged.has(orderId) && !refunded.has(orderId);
    if (order.status === 'completed') {
      if (!paid || charged.get(orderId) !== order.totalCents) {
        violations.push(`completed order ${orderId} not paid its total`);
      }
      for (const [key, quantity] of orderQuantities) {
        if (key.startsWith(`${orderId}/`) && committed.get(key) !== quantity) {
          violations.push(`completed order ${key}: ${committed.get(key)} committed of ${quantity}`);
        }
      }
    }
    if (order.status === 'cancelled' && paid && !skippedRefunds.has(orderId)) {
      violations.push(`cancelled ${orderId} not refunded`);
    }
  }
  for (const [customerId, c] of ledger.credit) {
    if (c.available + c.spent !== c.granted) violations.push(`credit of ${customerId} not whole`);
  }
  return { ledger, violations };
}
