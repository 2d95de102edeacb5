// The shared order schema (workflows/order-input.ts): what it refuses and how it names it.
import { describeIssues, orderInputSchemas } from './order-input';

const { cancelOrderSchema, createOrderSchema, orderLineSchema, orderSagaInputSchema } =
  orderInputSchemas();

const line = { productId: 'SKU-1', quantity: 1, unitPriceCents: 100 };
const problem = (
  schema: { safeParse(v: unknown): { success: boolean; error?: unknown } },
  v: unknown,
) => {
  const parsed = schema.safeParse(v);
  expect(parsed.success).toBe(false);
  return describeIssues(parsed.error as never);
};

test('a line names the field and says what is wrong', () => {
  expect(problem(orderLineSchema, { ...line, quantity: -3 })).toBe(
    'quantity: quantity must be a positive integer',
  );
  expect(problem(orderLineSchema, { ...line, quantity: '2' })).toBe(
    'quantity: quantity must be a positive integer',
  );
  expect(problem(orderLineSchema, { ...line, unitPriceCents: 2 ** 60 })).toMatch(
    /^unitPriceCents: must be a whole number of cents, at most 9007199254740991/,
  );
  expect(problem(orderLineSchema, { ...line, quantity: 1000, unitPriceCents: 2 ** 50 })).toMatch(
    /^unitPriceCents: the line total/,
  );
});

test('an order refuses a total past 2^53 cents, a non-list of items and unknown fields', () => {
  const order = { customerId: 'c1', items: [line] };
  expect(createOrderSchema.safeParse(order).success).toBe(true);
  expect(
    problem(createOrderSchema, {
      ...order,
      items: [
        { ...line, unitPriceCents: 2 ** 52 },
        { ...line, unitPriceCents: 2 ** 52 },
      ],
    }),
  ).toBe('items: the order total must not exceed 9007199254740991 cents');
  expect(problem(createOrderSchema, { ...order, items: { 0: line } })).toBe(
    'items: items must be a list of order lines',
  );
  expect(problem(createOrderSchema, { ...order, coupon: 'X' })).toMatch(/coupon/);
});

test("the saga's input needs the settings the client fills in", () => {
  const input = {
    orderId: 'o1',
    customerId: 'c1',
    currency: 'USD',
    items: [line],
    shippingAddress: null,
    paymentConfirmationThresholdCents: 100_000,
    paymentConfirmationTimeoutMs: 1000,
    correlationId: 'x',
  };
  expect(orderSagaInputSchema.safeParse(input).success).toBe(true);
  expect(problem(orderSagaInputSchema, { ...input, orderId: undefined })).toMatch(/^orderId: /);
  expect(problem(orderSagaInputSchema, 'an order')).toMatch(/expected object/);
});

test('a cancel reason is a string', () => {
  expect(problem(cancelOrderSchema, { reason: { text: 'no' } })).toBe(
    'reason: the reason must be a string',
  );
});
