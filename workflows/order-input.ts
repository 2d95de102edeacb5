// The one schema of an order and of every message orderSaga takes, shared by the HTTP API
// (api/schemas.ts), the CLI, the client and the saga itself: clients may start the saga and
// send it messages with the Temporal client directly, so the workflow validates them too.
//
// The schemas come from a factory, never as exported instances: the workflow sandbox builds its
// own once per worker thread in a preloaded module (order-input-checks.ts), and the SDK
// deep-freezes whatever a preloaded module exports, which a zod schema does not survive (zod
// binds its methods lazily onto the instance).
import { z } from 'zod';

const MAX_CENTS = Number.MAX_SAFE_INTEGER;
export const MAX_QUANTITY = 1_000_000;
export const MAX_ITEMS_PER_ORDER = 100;

/** The total of the lines in cents, or undefined past Number.MAX_SAFE_INTEGER. */
export function safeTotalCents(
  lines: readonly { quantity: number; unitPriceCents: number }[],
): number | undefined {
  let total = 0;
  for (const line of lines) {
    total += line.quantity * line.unitPriceCents;
    if (!Number.isSafeInteger(total)) return undefined;
  }
  return total;
}

/** `path: message` of the first issue, e.g. `items.0.quantity: quantity must be a positive integer`. */
export function describeIssues(error: z.ZodError): string {
  const first = error.issues[0];
  if (!first) return 'invalid input';
  const path = first.path.map(String).join('.');
  return path ? `${path}: ${first.message}` : first.message;
}

/** Builds every schema of an order and of the saga's messages. */
export function orderInputSchemas() {
  const idSchema = z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'must be letters, digits and . _ : - only');

  const cents = z
    .number('must be a number of cents')
    // zod's int() also refuses integers past 2^53, which cannot be held exactly.
    .int(`must be a whole number of cents, at most ${MAX_CENTS}`)
    .nonnegative('must not be negative')
    .max(MAX_CENTS, `must not exceed ${MAX_CENTS} cents`);

  const orderLineSchema = z
    .strictObject({
      productId: idSchema,
      quantity: z
        .number('quantity must be a positive integer')
        .int('quantity must be a positive integer')
        .positive('quantity must be a positive integer')
        .max(MAX_QUANTITY, `quantity must not exceed ${MAX_QUANTITY}`),
      unitPriceCents: cents,
    })
    .refine((line) => Number.isSafeInteger(line.quantity * line.unitPriceCents), {
      message: `the line total (quantity x unitPriceCents) must not exceed ${MAX_CENTS} cents`,
      path: ['unitPriceCents'],
    });

  const totalFits = {
    check: (order: { items: { quantity: number; unitPriceCents: number }[] }) =>
      safeTotalCents(order.items) !== undefined,
    params: {
      message: `the order total must not exceed ${MAX_CENTS} cents`,
      path: ['items'],
    },
  };

  const orderFields = {
    customerId: idSchema,
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code')
      .optional(),
    items: z
      .array(orderLineSchema, 'items must be a list of order lines')
      .min(1, 'an order needs at least one item')
      .max(MAX_ITEMS_PER_ORDER),
    shippingAddress: z.record(z.string().max(100), z.unknown()).nullable().optional(),
  };

  /** The body of POST /orders and the order part of the CLI's `create`. */
  const createOrderSchema = z
    .strictObject({ orderId: idSchema.optional(), ...orderFields })
    .refine(totalFits.check, totalFits.params);

  /** orderSaga's argument: the order plus the settings the client fills in. */
  const orderSagaInputSchema = z
    .strictObject({
      ...orderFields,
      orderId: idSchema,
      currency: orderFields.currency.unwrap(),
      shippingAddress: orderFields.shippingAddress.unwrap(),
      paymentConfirmationThresholdCents: cents,
      paymentConfirmationTimeoutMs: z.number().int().positive(),
      correlationId: z.string().min(1).max(200),
      useLocalActivities: z.boolean().optional(),
      compensationMaxAttempts: z.number().int().positive().max(1000).optional(),
      // At most about 3 hours of retries (10 s apart): far below the history limit.
      stepMaxAttempts: z.number().int().positive().max(1000).optional(),
      customerRef: z
        .string()
        .regex(/^c-[0-9a-f]{32}$/, 'must be a customer reference (c- and 32 hex digits)')
        .optional(),
    })
    .refine(totalFits.check, totalFits.params);

  const cancelReasonSchema = z.string('the reason must be a string').min(1).max(500).optional();

  return {
    idSchema,
    orderLineSchema,
    createOrderSchema,
    orderSagaInputSchema,
    cancelReasonSchema,
    cancelOrderSchema: z.strictObject({ reason: cancelReasonSchema }),
    /** confirmPayment: the amount the payer agrees to, which must be the saga's current total. */
    confirmPaymentSchema: z.strictObject({ amountCents: cents }),
    /** skipCompensation: an operator gives up on one failed compensation, saying why. */
    skipCompensationSchema: z.strictObject({
      compensation: z.string().min(1).max(200),
      reason: z.string().min(1).max(500),
    }),
  };
}

type OrderInputSchemas = ReturnType<typeof orderInputSchemas>;
export type OrderLineInput = z.infer<OrderInputSchemas['orderLineSchema']>;
export type NewOrderInput = z.infer<OrderInputSchemas['createOrderSchema']>;
