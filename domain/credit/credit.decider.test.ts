import { fold } from '../shared';
import { deciderSpec } from '../../test/decider-spec';
import { CreditDecider, type CreditEvent } from './credit.decider';

const now = '2026-01-01T00:00:00.000Z';
const given = deciderSpec(CreditDecider);
const granted: CreditEvent = {
  type: 'CreditGranted',
  data: { customer_id: 'c', cents: 1000, created_at: now },
};
const charged: CreditEvent = {
  type: 'PaymentCharged',
  data: { customer_id: 'c', order_id: 'o1', cents: 600, created_at: now },
};

describe('CustomerCredit', () => {
  test('a payment above the available credit is declined', () => {
    given([granted])
      .when({ type: 'ChargePayment', customerId: 'c', orderId: 'o2', cents: 1001, now })
      .thenRefused('PAYMENT_DECLINED');
    given([granted, charged])
      .when({ type: 'ChargePayment', customerId: 'c', orderId: 'o2', cents: 401, now })
      .thenRefused('PAYMENT_DECLINED');
  });

  test('charging an order twice is a no-op', () => {
    given([granted, charged])
      .when({ type: 'ChargePayment', customerId: 'c', orderId: 'o1', cents: 600, now })
      .then([]);
  });

  test('a refund restores the credit and a second refund does nothing', () => {
    const refunded: CreditEvent = {
      type: 'PaymentRefunded',
      data: { customer_id: 'c', order_id: 'o1', cents: 600, created_at: now },
    };
    given([granted, charged])
      .when({ type: 'RefundPayment', customerId: 'c', orderId: 'o1', now })
      .then([refunded]);
    given([granted, charged, refunded])
      .when({ type: 'RefundPayment', customerId: 'c', orderId: 'o1', now })
      .then([]);
    expect(fold(CreditDecider, [granted, charged, refunded])).toMatchObject({
      availableCents: 1000,
      spentCents: 0,
    });
  });

  test('a charge retried after its refund does not charge again', () => {
    const refunded: CreditEvent = {
      type: 'PaymentRefunded',
      data: { customer_id: 'c', order_id: 'o1', cents: 600, created_at: now },
    };
    given([granted, charged, refunded])
      .when({ type: 'ChargePayment', customerId: 'c', orderId: 'o1', cents: 600, now })
      .then([]);
  });

  test('a payment must be whole cents', () => {
    for (const cents of [-1, 2.5]) {
      given([granted])
        .when({ type: 'ChargePayment', customerId: 'c', orderId: 'o3', cents, now })
        .thenRefused('INVALID_COMMAND');
    }
  });

  test('a refund of an order never charged does nothing', () => {
    given([granted]).when({ type: 'RefundPayment', customerId: 'c', orderId: 'o9', now }).then([]);
  });

  test('grants must be positive whole cents', () => {
    given([])
      .when({ type: 'GrantCredit', customerId: 'c', cents: 0.5, now })
      .thenRefused('INVALID_COMMAND');
  });
});
