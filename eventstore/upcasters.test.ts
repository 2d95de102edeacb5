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

describe('chain versions', () => {
  it('depend on the declared steps of the aggregate type, not on the functions', () => {
    const a = new UpcasterRegistry().register('OrderCreated', 1, (d) => ({ ...d, x: 1 }), {
      aggregateType: 'Order',
    });
    const b = new UpcasterRegistry().register(
      'OrderCreated',
      1,
      function (data) {
        return Object.assign({}, data, { x: 1 });
      },
      { aggregateType: 'Order' },
    );
    expect(a.chainVersion('Order')).toBe(b.chainVersion('Order'));
    expect(a.chainVersion('Order')).toMatch(/^c1:[0-9a-f]{16}$/);
    // A type without chains of its own has the version of no steps.
    expect(a.chainVersion('Inventory')).toBe(new UpcasterRegistry().chainVersion('Inventory'));
  });

  it('change for the aggregate type a new step or a revision is declared for, only', () => {
    const before = defaultUpcasters();
    const added = defaultUpcasters().register('OrderCreated', 2, (d) => d, {
      aggregateType: 'Order',
    });
    expect(added.chainVersion('Order')).not.toBe(before.chainVersion('Order'));
    expect(added.chainVersion('Inventory')).toBe(before.chainVersion('Inventory'));
    expect(added.chainVersion('CustomerCredit')).toBe(before.chainVersion('CustomerCredit'));

    const revised = new UpcasterRegistry()
      .register('OrderCreated', 1, (d) => ({ ...d, shipping_address: null }), {
        aggregateType: 'Order',
        revision: 2,
      })
      .register('OrderItemAdded', 1, (d) => ({ ...d, tax_amount: 0 }), { aggregateType: 'Order' });
    expect(revised.chainVersion('Order')).not.toBe(before.chainVersion('Order'));
    expect(revised.chainVersion('Inventory')).toBe(before.chainVersion('Inventory'));
  });

  it('count a chain declared for no aggregate type for every type', () => {
    const before = defaultUpcasters();
    const anyType = defaultUpcasters().register('Happened', 1, (d) => d);
    expect(anyType.chainVersion('Inventory')).not.toBe(before.chainVersion('Inventory'));
    expect(anyType.chainVersion('Order')).not.toBe(before.chainVersion('Order'));
  });

  it('refuse a revision that is not a positive integer', () => {
    expect(() => new UpcasterRegistry().register('E', 1, (d) => d, { revision: 0 })).toThrow(
      /revision must be a positive integer/,
    );
  });
});
