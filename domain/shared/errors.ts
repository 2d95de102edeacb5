// Business refusals. The code is the contract: activities turn it into an ApplicationFailure
// type, the HTTP layer into a status, so nothing downstream parses messages.

export type DomainErrorCode =
  | 'INVALID_COMMAND'
  | 'ORDER_ALREADY_EXISTS'
  | 'ORDER_NOT_FOUND'
  | 'ORDER_NOT_PENDING'
  | 'ORDER_EMPTY'
  | 'ORDER_ALREADY_COMPLETED'
  | 'CURRENCY_MISMATCH'
  | 'INSUFFICIENT_STOCK'
  | 'PAYMENT_DECLINED'
  // Refusals of the saga's updates (workflows/order-saga.workflow.ts).
  | 'PAYMENT_CONFIRMATION_NOT_AWAITED'
  | 'PAYMENT_AMOUNT_MISMATCH'
  | 'COMPENSATION_NOT_FAILED'
  | 'UNKNOWN_COMPENSATION'
  | 'TOO_MANY_ITEMS'
  // A step that kept failing transiently (the database down) until its bound.
  | 'STEP_UNAVAILABLE';

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export function ensure(
  condition: boolean,
  code: DomainErrorCode,
  message: string,
  details?: Record<string, unknown>,
): asserts condition {
  if (!condition) throw new DomainError(code, message, details);
}
