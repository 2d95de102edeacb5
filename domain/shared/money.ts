// Money is integer cents (the currency travels beside it); a float never holds an amount.
import { ensure } from './errors';

export function isCents(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

export function multiply(unitCents: number, quantity: number): number {
  ensure(
    isCents(unitCents),
    'INVALID_COMMAND',
    'unit price must be a non-negative integer of cents',
    {
      unitCents,
    },
  );
  ensure(
    Number.isSafeInteger(quantity) && quantity > 0,
    'INVALID_COMMAND',
    'quantity must be a positive integer',
    { quantity },
  );
  const total = unitCents * quantity;
  ensure(
    isCents(total),
    'INVALID_COMMAND',
    `line total must not exceed ${Number.MAX_SAFE_INTEGER} cents`,
    {
      unitCents,
      quantity,
    },
  );
  return total;
}

export function addCents(a: number, b: number): number {
  const total = a + b;
  ensure(
    isCents(total),
    'INVALID_COMMAND',
    `total must not exceed ${Number.MAX_SAFE_INTEGER} cents`,
  );
  return total;
}
