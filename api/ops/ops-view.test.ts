import { renderSnapshot } from './ops-view';

const base = {
  stats: {
    pending: { count: 0, revenueCents: 0 },
    completed: { count: 0, revenueCents: 0 },
    cancelled: { count: 0, revenueCents: 0 },
  },
  latestOrders: [],
  totalOrders: 0,
  stock: [],
  compensationFailed: [],
  at: new Date('2026-01-01T00:00:00Z'),
};
const projection = {
  name: 'orders',
  status: 'running',
  transactionId: '10',
  globalPosition: 42,
  eventsProcessed: 42,
  lagEvents: 0,
  lagExact: true,
  lagSeconds: 0,
  lastError: null,
  updatedAt: '2026-01-01T00:00:00.000Z',
};

test('the projections table shows how many events each set aside, and lists the parked ones', () => {
  const page = renderSnapshot({
    ...base,
    projections: [{ ...projection, deadLetters: 1 }],
    deadLetters: [
      {
        id: 7,
        projection: 'orders',
        globalPosition: 40,
        eventId: '00000000-0000-4000-8000-000000000000',
        eventType: 'OrderItemAdded',
        stream: 'Order-o1',
        version: 2,
        attempts: 3,
        error: 'event 40 (OrderItemAdded Order-o1 v2): <boom>',
        status: 'parked',
        createdAt: '2026-01-01T00:00:00.000Z',
        resolvedAt: null,
      },
    ],
  }).value;
  expect(page).toMatch(/<td class="num" data-dead-letters>1<\/td>/);
  expect(page).toContain('data-dead-letter="7"');
  expect(page).toContain('40 OrderItemAdded Order-o1 v2');
  expect(page).toContain('&lt;boom&gt;');
  expect(page).toContain('npm run projections -- retry ID');
});

test('without parked events there is no dead-letter table', () => {
  const page = renderSnapshot({
    ...base,
    projections: [{ ...projection, deadLetters: 0 }],
    deadLetters: [],
  }).value;
  expect(page).toMatch(/data-dead-letters>0</);
  expect(page).not.toContain('id="dead-letters"');
});
