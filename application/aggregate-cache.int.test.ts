// The aggregate cache on the real Postgres. Two stores on one database, each with its own cache,
// stand for two worker processes: whatever one writes, the other's cache does not know.
import { randomUUID } from 'node:crypto';
import { InventoryDecider, type InventoryCommand } from '../domain/inventory';
import { OrderDecider, type OrderCommand } from '../domain/order';
import { type Decider, DomainError, type DomainEvent } from '../domain/shared';
import { createTestDatabase, type TestDatabase } from '../test/harness';
import { createEventStore, type EventStore } from '../eventstore';
import { AggregateCache } from './aggregate-cache';
import {
  type HandleOptions,
  handleCommand as handleUncached,
  loadAggregate,
} from './handle-command';

jest.setTimeout(60_000);

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.close());

const now = () => new Date().toISOString();
const restock = (productId: string, quantity: number): InventoryCommand => ({
  type: 'Restock',
  productId,
  quantity,
  now: now(),
});
const reserve = (productId: string, orderId: string, quantity: number): InventoryCommand => ({
  type: 'Reserve',
  productId,
  orderId,
  quantity,
  now: now(),
});
const createOrder = (orderId: string): OrderCommand => ({
  type: 'CreateOrder',
  orderId,
  customerId: 'alice',
  currency: 'USD',
  lines: [{ productId: 'SKU-MUG', quantity: 1, unitPriceCents: 1250 }],
  shippingAddress: null,
  now: now(),
});

/** What one worker process has: its store and its own aggregate cache. */
interface Process {
  store: EventStore;
  cache: AggregateCache;
}
const newProcess = (): Process => ({
  store: createEventStore(t.db),
  cache: new AggregateCache(100),
});

/** handleCommand as a process runs it: with the process's cache. */
const handleCommand = <State, Command, Event extends DomainEvent>(
  process: Process,
  decider: Decider<State, Command, Event>,
  id: string,
  command: Command,
  options: HandleOptions = {},
) => handleUncached(process.store, decider, id, command, { ...options, cache: process.cache });

/** A process whose loads are counted. */
function countingProcess(): { store: Process; loads: () => number } {
  const process = newProcess();
  const spy = jest.spyOn(process.store, 'readAggregate');
  return { store: process, loads: () => spy.mock.calls.length };
}

async function eventTypes(type: string, id: string): Promise<string[]> {
  const { rows } = await t.pool.query<{ event_type: string }>(
    'SELECT event_type FROM domain_events WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY version',
    [type, id],
  );
  return rows.map((r) => r.event_type);
}

it('skips the load of an aggregate this process wrote last', async () => {
  const { store, loads } = countingProcess();
  const id = `SKU-${randomUUID()}`;
  await handleCommand(store, InventoryDecider, id, restock(id, 10));
  expect(loads()).toBe(1);
  const second = await handleCommand(store, InventoryDecider, id, reserve(id, 'o-1', 3));
  const third = await handleCommand(store, InventoryDecider, id, reserve(id, 'o-2', 4));
  expect(loads()).toBe(1);
  expect(second.version).toBe(2);
  expect(third).toMatchObject({ version: 3, state: { onHand: 10, reserved: 7 } });
  // What the cache decided from is what the store holds.
  expect((await loadAggregate(store.store, InventoryDecider, id)).state).toEqual(third.state);
});

it('reloads and decides again when another process appended since (stale cache)', async () => {
  const a = countingProcess();
  const b = newProcess();
  const id = `SKU-${randomUUID()}`;
  await handleCommand(a.store, InventoryDecider, id, restock(id, 10)); // a caches version 1
  await handleCommand(b, InventoryDecider, id, reserve(id, 'o-b', 6)); // version 2, unknown to a

  const result = await handleCommand(a.store, InventoryDecider, id, reserve(id, 'o-a', 3));
  expect(result).toMatchObject({ version: 3, state: { onHand: 10, reserved: 9 } });
  expect(a.loads()).toBe(2); // the first command's load, and the reload after the conflict
  expect(await eventTypes('Inventory', id)).toEqual([
    'StockRestocked',
    'StockReserved',
    'StockReserved',
  ]);
});

it('never refuses a command on a stale cached state: the refusal is checked against the store', async () => {
  const a = newProcess();
  const b = newProcess();
  const id = `SKU-${randomUUID()}`;
  await handleCommand(a, InventoryDecider, id, restock(id, 2));
  await handleCommand(a, InventoryDecider, id, reserve(id, 'o-1', 2)); // a caches: 0 available
  await handleCommand(b, InventoryDecider, id, restock(id, 5)); // another process restocks

  // From a's cache the stock is short; from the store it is not.
  const result = await handleCommand(a, InventoryDecider, id, reserve(id, 'o-2', 4));
  expect(result.state).toMatchObject({ onHand: 7, reserved: 6 });

  // A refusal the store confirms still comes out, as a DomainError.
  await expect(handleCommand(a, InventoryDecider, id, reserve(id, 'o-3', 2))).rejects.toMatchObject(
    {
      code: 'INSUFFICIENT_STOCK',
    },
  );
});

it('never skips a command on a stale cached state: "nothing to do" is checked against the store', async () => {
  const a = newProcess();
  const b = newProcess();
  const id = `SKU-${randomUUID()}`;
  await handleCommand(a, InventoryDecider, id, restock(id, 5)); // a caches: no reservations
  await handleCommand(b, InventoryDecider, id, reserve(id, 'o-1', 3)); // reserved elsewhere

  // From a's cache order o-1 holds nothing, so releasing it would write nothing: a leak.
  const release: InventoryCommand = {
    type: 'ReleaseReservation',
    productId: id,
    orderId: 'o-1',
    now: now(),
  };
  const result = await handleCommand(a, InventoryDecider, id, release);
  expect(result.events.map((e) => e.type)).toEqual(['ReservationReleased']);
  expect(result.state).toMatchObject({ onHand: 5, reserved: 0 });
});

it('runs commands on one aggregate one at a time per process, so they never conflict', async () => {
  const store = newProcess();
  const appends = jest.spyOn(store.store, 'appendToStream');
  const id = `SKU-${randomUUID()}`;
  await handleCommand(store, InventoryDecider, id, restock(id, 100));
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      handleCommand(store, InventoryDecider, id, reserve(id, `o-${i}`, 1)),
    ),
  );
  // One append per command: none lost a race and went again.
  expect(appends).toHaveBeenCalledTimes(21);
  expect((await loadAggregate(store.store, InventoryDecider, id)).state).toMatchObject({
    onHand: 100,
    reserved: 20,
  });
});

describe('expectNew (creating commands)', () => {
  it('appends without a load', async () => {
    const { store, loads } = countingProcess();
    const orderId = randomUUID();
    const result = await handleCommand(store, OrderDecider, orderId, createOrder(orderId), {
      expectNew: true,
    });
    expect(loads()).toBe(0);
    expect(result.version).toBe(2);
    expect(await eventTypes('Order', orderId)).toEqual(['OrderCreated', 'OrderItemAdded']);
  });

  it('treats the retry of a committed create (same ids, new timestamps) as done', async () => {
    const orderId = randomUUID();
    const eventIds = [randomUUID(), randomUUID()];
    const ids = { eventId: (i: number) => eventIds[i]! };
    const first = newProcess();
    await handleCommand(first, OrderDecider, orderId, createOrder(orderId), {
      ...ids,
      expectNew: true,
    });
    // The retry runs in another process (the first died after its commit).
    const retry = newProcess();
    const result = await handleCommand(retry, OrderDecider, orderId, createOrder(orderId), {
      ...ids,
      expectNew: true,
    });
    expect(result.events).toEqual([]);
    expect(await eventTypes('Order', orderId)).toEqual(['OrderCreated', 'OrderItemAdded']);
  });

  it('still refuses a second order with the same id', async () => {
    const orderId = randomUUID();
    await handleCommand(newProcess(), OrderDecider, orderId, createOrder(orderId));
    const err: unknown = await handleCommand(
      newProcess(),
      OrderDecider,
      orderId,
      createOrder(orderId),
      { expectNew: true },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ code: 'ORDER_ALREADY_EXISTS' });
  });
});
