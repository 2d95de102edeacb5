import { AggregateCache } from './aggregate-cache';

const stream = (id: string) => ({ type: 'Inventory', id });
const decider = {};

it('keeps the most recently used aggregates up to its size', () => {
  const cache = new AggregateCache(2);
  for (const id of ['a', 'b', 'c']) {
    cache.set(stream(id), { decider, state: { id }, version: 1, snapshotVersion: 0 });
  }
  expect(cache.size).toBe(2);
  expect(cache.get(stream('a'), decider)).toBeUndefined();
  expect(cache.get(stream('c'), decider)).toMatchObject({ state: { id: 'c' }, version: 1 });
});

it('gives a state only to the decider that folded it', () => {
  const cache = new AggregateCache(10);
  cache.set(stream('a'), { decider, state: {}, version: 3, snapshotVersion: 0 });
  expect(cache.get(stream('a'), { ...decider })).toBeUndefined();
  expect(cache.get({ type: 'Order', id: 'a' }, decider)).toBeUndefined();
  cache.delete(stream('a'));
  expect(cache.get(stream('a'), decider)).toBeUndefined();
});

it('runs work on one aggregate one at a time, and other aggregates alongside', async () => {
  const cache = new AggregateCache(10);
  const log: string[] = [];
  const step = (name: string, ms: number) => async () => {
    log.push(`${name} start`);
    await new Promise((r) => setTimeout(r, ms));
    log.push(`${name} end`);
  };
  await Promise.all([
    cache.exclusive(stream('a'), step('a1', 30)),
    cache.exclusive(stream('a'), step('a2', 1)),
    cache.exclusive(stream('b'), step('b1', 1)),
  ]);
  expect(log.indexOf('a2 start')).toBeGreaterThan(log.indexOf('a1 end'));
  expect(log.indexOf('b1 end')).toBeLessThan(log.indexOf('a1 end'));
});

it('refuses a size below 1 (0 means no cache at all, decided by the store)', () => {
  expect(() => new AggregateCache(0)).toThrow(RangeError);
});
