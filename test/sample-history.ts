// Domain-shaped event histories for tests and benchmarks: customers get credit, products get
// stock, orders are created with items, reserved, paid and then completed or cancelled (with
// their compensations). Appended through the event store, stream by stream.
import { ConcurrencyError, type EventStore, type NewEvent, type StreamName } from '../eventstore';

export interface HistoryOptions {
  orders: number;
  customers?: number;
  products?: number;
  /** Distinguishes the ids of several histories in one database. */
  prefix?: string;
  /** Every n-th order is cancelled (0: none). */
  cancelEvery?: number;
}

export type Append = { stream: StreamName; events: NewEvent[] };

const at = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();

/** The appends of one order's life, in the order a saga makes them. */
export function orderAppends(i: number, o: Required<HistoryOptions>): Append[] {
  const orderId = `${o.prefix}order-${i}`;
  const customer = `${o.prefix}customer-${i % o.customers}`;
  const lines = Array.from({ length: 1 + (i % 3) }, (_, j) => ({
    product: `${o.prefix}product-${(i + j) % o.products}`,
    quantity: 1 + ((i + j) % 4),
    unitPrice: 100 + ((i * 7 + j) % 900),
  }));
  const total = lines.reduce((s, l) => s + l.quantity * l.unitPrice, 0);
  const t = at(i);
  const order = { type: 'Order', id: orderId };
  const inv = (p: string) => ({ type: 'Inventory', id: p });
  const credit = { type: 'CustomerCredit', id: customer };
  const cancelled = o.cancelEvery > 0 && i % o.cancelEvery === 0;
  const appends: Append[] = [
    {
      stream: order,
      events: [
        {
          type: 'OrderCreated',
          data: {
            order_id: orderId,
            customer_id: customer,
            currency: 'USD',
            shipping_address: null,
            created_at: t,
          },
        },
        ...lines.map((l) => ({
          type: 'OrderItemAdded',
          data: {
            order_id: orderId,
            product_id: l.product,
            quantity: l.quantity,
            unit_price: l.unitPrice,
            tax_amount: 0,
            created_at: t,
          },
        })),
      ],
    },
    ...lines.map((l) => ({
      stream: inv(l.product),
      events: [
        {
          type: 'StockReserved',
          data: { product_id: l.product, order_id: orderId, quantity: l.quantity, created_at: t },
        },
      ],
    })),
    {
      stream: credit,
      events: [
        {
          type: 'PaymentCharged',
          data: { customer_id: customer, order_id: orderId, cents: total, created_at: t },
        },
      ],
    },
  ];
  if (cancelled) {
    appends.push(
      {
        stream: credit,
        events: [
          {
            type: 'PaymentRefunded',
            data: { customer_id: customer, order_id: orderId, cents: total, created_at: t },
          },
        ],
      },
      ...lines.map((l) => ({
        stream: inv(l.product),
        events: [
          {
            type: 'ReservationReleased',
            data: {
              product_id: l.product,
              order_id: orderId,
              quantity: l.quantity,
              created_at: t,
            },
          },
        ],
      })),
      {
        stream: order,
        events: [
          {
            type: 'OrderCancelled',
            data: { order_id: orderId, reason: 'payment declined', created_at: t },
          },
        ],
      },
    );
  } else {
    appends.push(
      ...lines.map((l) => ({
        stream: inv(l.product),
        events: [
          {
            type: 'ReservationCommitted',
            data: {
              product_id: l.product,
              order_id: orderId,
              quantity: l.quantity,
              created_at: t,
            },
          },
        ],
      })),
      {
        stream: order,
        events: [
          {
            type: 'OrderCompleted',
            data: { order_id: orderId, total_amount: total, currency: 'USD', created_at: t },
          },
        ],
      },
    );
  }
  return appends;
}

function withDefaults(options: HistoryOptions): Required<HistoryOptions> {
  return { customers: 20, products: 10, prefix: '', cancelEvery: 5, ...options };
}

/** The catalog (credit and stock) that the orders draw on. */
export function catalogAppends(options: HistoryOptions): Append[] {
  const o = withDefaults(options);
  return [
    ...Array.from({ length: o.customers }, (_, c) => ({
      stream: { type: 'CustomerCredit', id: `${o.prefix}customer-${c}` },
      events: [
        {
          type: 'CreditGranted',
          data: { customer_id: `${o.prefix}customer-${c}`, cents: 10_000_000, created_at: at(0) },
        },
      ],
    })),
    ...Array.from({ length: o.products }, (_, p) => ({
      stream: { type: 'Inventory', id: `${o.prefix}product-${p}` },
      events: [
        {
          type: 'StockRestocked',
          data: { product_id: `${o.prefix}product-${p}`, quantity: 1_000_000, created_at: at(0) },
        },
      ],
    })),
  ];
}

/**
 * Appends the catalog, then the orders `from`..`from + count - 1`, with `concurrency` orders
 * in flight at once (their appends interleave, as concurrent sagas' do).
 */
export async function appendHistory(
  store: Pick<EventStore, 'appendToStream'>,
  options: HistoryOptions & { from?: number; catalog?: boolean; concurrency?: number },
): Promise<number> {
  const o = withDefaults(options);
  let events = 0;
  const run = async (appends: Append[]) => {
    for (const a of appends) {
      // Concurrent orders touch the same product and customer streams: retry a lost race.
      for (;;) {
        try {
          await store.appendToStream(a.stream, 'any', a.events);
          break;
        } catch (err) {
          if (!(err instanceof ConcurrencyError)) throw err;
        }
      }
      events += a.events.length;
    }
  };
  if (options.catalog !== false) await Promise.all(catalogAppends(o).map((a) => run([a])));
  const from = options.from ?? 0;
  let next = from;
  const worker = async () => {
    while (next < from + o.orders) await run(orderAppends(next++, o));
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
  return events;
}
