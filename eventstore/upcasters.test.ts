import { defaultUpcasters, UpcasterRegistry } from './upcasters';

describe('upcasters', () => {
  it('registers the two classic examples', () => {
    const registry = defaultUpcasters();
    expect(registry.upcast('OrderCreated', 1, { order_id: 'o' })).toEqual({
      schemaVersion: 2,
      data: { order_id: 'o', shipping_address: null },
    });
    expect(registry.upcast('OrderItemAdded', 1, { quantity: 1 })).toEqual({
      schemaVersion: 2,
      data: { quantity: 1, tax_amount: 0 },
    });
    expect(registry.latestVersion('OrderCreated')).toBe(2);
    expect(registry.latestVersion('OrderCompleted')).toBe(1);
  });

  it('chains steps, leaves current data alone and refuses a duplicate step', () => {
    const registry = new UpcasterRegistry()
      .register('E', 1, (d) => ({ ...d, b: 1 }))
      .register('E', 2, (d) => ({ ...d, c: (d.b as number) + 1 }));
    const input = { a: 0 };
    expect(registry.upcast('E', 1, input)).toEqual({
      schemaVersion: 3,
      data: { a: 0, b: 1, c: 2 },
    });
    expect(input).toEqual({ a: 0 });
    expect(registry.upcast('E', 3, { a: 9 })).toEqual({ schemaVersion: 3, data: { a: 9 } });
    expect(() => registry.register('E', 1, (d) => d)).toThrow(/already registered/);
  });
});
