import { snapshotIntervalFor } from './snapshots';

describe('snapshotIntervalFor', () => {
  const policy = { interval: 100, intervalByType: { INVENTORY: 20, CUSTOMER_CREDIT: 0 } };

  it('matches SNAPSHOT_INTERVAL_<TYPE> overrides whatever the case and underscores', () => {
    expect(snapshotIntervalFor(policy, 'Inventory')).toBe(20);
    expect(snapshotIntervalFor(policy, 'CustomerCredit')).toBe(0);
  });

  it('falls back to the default interval', () => {
    expect(snapshotIntervalFor(policy, 'Order')).toBe(100);
    expect(snapshotIntervalFor({ interval: 7 }, 'Order')).toBe(7);
  });
});
