// handleCommand's cancellation on the in-memory store: a command whose caller has given up
// writes nothing, before its load or between its load and its append.
import { InventoryDecider } from '../domain/inventory';
import { createInMemoryEventStore } from '../eventstore/in-memory-event-store';
import { handleCommand } from './handle-command';

const restock = { type: 'Restock' as const, productId: 'p-1', quantity: 3, now: '2026-11-27' };

it('a command already cancelled is not run', async () => {
  const store = createInMemoryEventStore();
  const cancelled = new AbortController();
  cancelled.abort();
  await expect(
    handleCommand(store, InventoryDecider, 'p-1', restock, { signal: cancelled.signal }),
  ).rejects.toMatchObject({ name: 'AbortError' });
  expect(await store.readStream({ type: 'Inventory', id: 'p-1' })).toEqual([]);
});

it('a command cancelled during its load appends nothing', async () => {
  const store = createInMemoryEventStore();
  const cancellation = new AbortController();
  // The load is the store's readAggregate: cancel while it runs.
  const readAggregate = store.readAggregate.bind(store);
  store.readAggregate = async (...args: Parameters<typeof store.readAggregate>) => {
    cancellation.abort();
    return readAggregate(...args);
  };
  await expect(
    handleCommand(store, InventoryDecider, 'p-1', restock, { signal: cancellation.signal }),
  ).rejects.toMatchObject({ name: 'AbortError' });
  expect(await store.readStream({ type: 'Inventory', id: 'p-1' })).toEqual([]);
});

it('a live signal changes nothing', async () => {
  const store = createInMemoryEventStore();
  const result = await handleCommand(store, InventoryDecider, 'p-1', restock, {
    signal: new AbortController().signal,
  });
  expect(result.events.map((e) => e.type)).toEqual(['StockRestocked']);
  expect(await store.readStream({ type: 'Inventory', id: 'p-1' })).toHaveLength(1);
});
