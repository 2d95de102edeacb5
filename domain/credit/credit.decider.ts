// Customer credit: a grant adds to available, a payment moves cents to spent (declined above
// what is available), a refund moves them back. Payments are keyed by order, so retries of a
// charge or a refund are no-ops.
import { type Decider, type DomainEvent, assertNever, ensure, isCents } from '../shared';

export type CreditEvent =
  | DomainEvent<'CreditGranted', { customer_id: string; cents: number; created_at: string }>
  | DomainEvent<
      'PaymentCharged',
      { customer_id: string; order_id: string; cents: number; created_at: string }
    >
  | DomainEvent<
      'PaymentRefunded',
      { customer_id: string; order_id: string; cents: number; created_at: string }
    >;

export interface CreditState {
  availableCents: number;
  spentCents: number;
  /** Cents charged per order id and not refunded. */
  payments: Record<string, number>;
  /** Orders already refunded, so that a late retry of the charge cannot charge again. */
  refunded: Record<string, true>;
}

export type CreditCommand =
  | { type: 'GrantCredit'; customerId: string; cents: number; now: string }
  | { type: 'ChargePayment'; customerId: string; orderId: string; cents: number; now: string }
  | { type: 'RefundPayment'; customerId: string; orderId: string; now: string };

export const CreditDecider: Decider<CreditState, CreditCommand, CreditEvent> = {
  aggregateType: 'CustomerCredit',
  initialState: () => ({ availableCents: 0, spentCents: 0, payments: {}, refunded: {} }),

  decide(command, state) {
    const base = { customer_id: command.customerId, created_at: command.now };
    switch (command.type) {
      case 'GrantCredit':
        ensure(
          isCents(command.cents) && command.cents > 0,
          'INVALID_COMMAND',
          'cents must be a positive integer',
          { cents: command.cents },
        );
        ensure(
          isCents(state.availableCents + command.cents),
          'INVALID_COMMAND',
          'credit would exceed the largest safe integer',
        );
        return [{ type: 'CreditGranted', data: { ...base, cents: command.cents } }];
      case 'ChargePayment': {
        ensure(isCents(command.cents), 'INVALID_COMMAND', 'cents must be a non-negative integer', {
          cents: command.cents,
        });
        if (state.payments[command.orderId] !== undefined || state.refunded[command.orderId]) {
          return [];
        }
        ensure(
          command.cents <= state.availableCents,
          'PAYMENT_DECLINED',
          `Payment of ${command.cents} cents declined: ${state.availableCents} cents of credit available`,
          { requested: command.cents, available: state.availableCents },
        );
        return [
          {
            type: 'PaymentCharged',
            data: { ...base, order_id: command.orderId, cents: command.cents },
          },
        ];
      }
      case 'RefundPayment': {
        const charged = state.payments[command.orderId];
        if (charged === undefined) return [];
        return [
          { type: 'PaymentRefunded', data: { ...base, order_id: command.orderId, cents: charged } },
        ];
      }
      default:
        return assertNever(command);
    }
  },

  evolve(state, event) {
    switch (event.type) {
      case 'CreditGranted':
        return { ...state, availableCents: state.availableCents + event.data.cents };
      case 'PaymentCharged':
        return {
          ...state,
          availableCents: state.availableCents - event.data.cents,
          spentCents: state.spentCents + event.data.cents,
          payments: { ...state.payments, [event.data.order_id]: event.data.cents },
        };
      case 'PaymentRefunded': {
        const payments = { ...state.payments };
        delete payments[event.data.order_id];
        return {
          availableCents: state.availableCents + event.data.cents,
          spentCents: state.spentCents - event.data.cents,
          payments,
          refunded: { ...state.refunded, [event.data.order_id]: true },
        };
      }
      default:
        return assertNever(event);
    }
  },
};
