// orderSaga: create the order, reserve inventory, take payment (waiting for confirmation of
// large payments on a durable timer), confirm. On any business failure or a cancel request,
// run the registered compensations in reverse, then cancel the order with the reason.
//
// Compensations are registered before their step runs (a step that commits just as it fails
// is still undone; every compensation is a no-op when there is nothing to undo), run in a
// non-cancellable scope, and a compensation that keeps failing parks the saga in
// compensation_failed until an operator sends retryCompensation. Nothing is dropped.
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { OrderActivities } from '../activities/order.activities';
import { orderTotalCents } from '../domain/order';
import {
  cancelOrderSignal,
  confirmPaymentSignal,
  retryCompensationSignal,
  sagaStateQuery,
} from './messages';
import { CustomerIdKey, OrderStatusKey, OrderTotalCentsKey } from './search-attributes';
import type { OrderSagaInput, OrderSagaResult, SagaState, SagaStatus, SagaStep } from './types';

// Business refusals are non-retryable ApplicationFailures raised by the activities; anything
// else (database down, worker lost) is retried until it goes through.
const stepOptions: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  // Let a running step finish before compensating, so its effects are known when we undo them.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '200 ms', backoffCoefficient: 2, maximumInterval: '10 seconds' },
};

const remote = proxyActivities<OrderActivities>(stepOptions);
const local = proxyLocalActivities<OrderActivities>({
  startToCloseTimeout: stepOptions.startToCloseTimeout,
  retry: stepOptions.retry,
});

function compensationActivities(input: OrderSagaInput): OrderActivities {
  const retry = { ...stepOptions.retry, maximumAttempts: input.compensationMaxAttempts ?? 5 };
  return input.useLocalActivities
    ? proxyLocalActivities<OrderActivities>({ startToCloseTimeout: '30 seconds', retry })
    : proxyActivities<OrderActivities>({ ...stepOptions, retry });
}

interface Compensation {
  name: string;
  run: () => Promise<void>;
}

export async function orderSaga(input: OrderSagaInput): Promise<OrderSagaResult> {
  const acts = input.useLocalActivities ? local : remote;
  const undo = compensationActivities(input);
  const { orderId, customerId } = input;
  const totalCents = orderTotalCents(input.items);

  const state: SagaState = {
    status: 'running',
    step: null,
    completedSteps: [],
    compensations: [],
    lastError: null,
  };
  const compensations: Compensation[] = [];
  let failureReason: string | null = null;
  let paymentConfirmed = false;
  let retryRequested = false;
  const steps = new CancellationScope();

  const setStatus = (status: SagaStatus) => {
    state.status = status;
    upsertSearchAttributes([{ key: OrderStatusKey, value: status }]);
  };
  const register = (compensation: Compensation) => {
    compensations.push(compensation);
    state.compensations = compensations.map((c) => c.name).reverse();
  };
  const runStep = async (step: SagaStep, body: () => Promise<void>) => {
    state.step = step;
    await body();
    state.completedSteps.push(step);
  };

  setHandler(sagaStateQuery, () => state);
  setHandler(cancelOrderSignal, (reason) => {
    // Once the order is being confirmed, or the saga is already unwinding, it is too late.
    const cancellable =
      state.status === 'running' || state.status === 'awaiting_payment_confirmation';
    if (!cancellable || state.step === 'confirm_order') return;
    failureReason ??= `cancelled: ${reason ?? 'requested by the customer'}`;
    steps.cancel();
  });
  setHandler(confirmPaymentSignal, () => {
    paymentConfirmed = true;
  });
  setHandler(retryCompensationSignal, () => {
    retryRequested = true;
  });

  upsertSearchAttributes([
    { key: CustomerIdKey, value: customerId },
    { key: OrderTotalCentsKey, value: totalCents },
    { key: OrderStatusKey, value: 'running' },
  ]);

  try {
    await steps.run(async () => {
      register({
        name: 'cancelOrder',
        run: () =>
          undo.cancelOrder({
            orderId,
            reason: failureReason ?? 'saga failed',
            correlationId: input.correlationId,
          }),
      });
      await runStep('create_order', () =>
        acts.createOrder({
          orderId,
          customerId,
          currency: input.currency,
          items: input.items,
          shippingAddress: input.shippingAddress,
          correlationId: input.correlationId,
        }),
      );

      await runStep('reserve_inventory', async () => {
        for (const [productId, quantity] of quantitiesByProduct(input.items)) {
          register({
            name: `releaseInventory:${productId}`,
            run: () =>
              undo.releaseInventory({ orderId, productId, correlationId: input.correlationId }),
          });
          await acts.reserveInventory({
            orderId,
            productId,
            quantity,
            correlationId: input.correlationId,
          });
        }
      });

      await runStep('process_payment', async () => {
        if (totalCents > input.paymentConfirmationThresholdCents) {
          setStatus('awaiting_payment_confirmation');
          const confirmed = await condition(
            () => paymentConfirmed,
            input.paymentConfirmationTimeoutMs,
          );
          if (!confirmed) {
            throw ApplicationFailure.nonRetryable(
              `payment was not confirmed within ${input.paymentConfirmationTimeoutMs} ms`,
              'PAYMENT_CONFIRMATION_TIMEOUT',
            );
          }
          setStatus('running');
        }
        register({
          name: 'refundPayment',
          run: () =>
            undo.refundPayment({ orderId, customerId, correlationId: input.correlationId }),
        });
        await acts.chargePayment({
          orderId,
          customerId,
          amountCents: totalCents,
          correlationId: input.correlationId,
        });
      });
    });

    // Outside the cancellable scope: a cancel request that arrives now is too late.
    await runStep('confirm_order', () =>
      acts.confirmOrder({
        orderId,
        productIds: [...quantitiesByProduct(input.items).keys()],
        correlationId: input.correlationId,
      }),
    );
  } catch (err) {
    failureReason ??= describeFailure(err);
    state.lastError = failureReason;
    await CancellationScope.nonCancellable(() => compensate());
    setStatus('cancelled');
    state.step = null;
    return { orderId, status: 'cancelled', reason: failureReason };
  }

  compensations.length = 0;
  state.compensations = [];
  state.step = null;
  setStatus('completed');
  return { orderId, status: 'completed', reason: null };

  async function compensate(): Promise<void> {
    state.step = 'compensate';
    setStatus('compensating');
    for (;;) {
      const next = compensations[compensations.length - 1];
      if (!next) return;
      try {
        await next.run();
        compensations.pop();
        state.compensations = compensations.map((c) => c.name).reverse();
      } catch (err) {
        state.lastError = `compensation ${next.name} failed: ${describeFailure(err)}`;
        setStatus('compensation_failed');
        retryRequested = false;
        await condition(() => retryRequested);
        setStatus('compensating');
      }
    }
  }
}

function quantitiesByProduct(items: OrderSagaInput['items']): Map<string, number> {
  const totals = new Map<string, number>();
  for (const item of items)
    totals.set(item.productId, (totals.get(item.productId) ?? 0) + item.quantity);
  return totals;
}

/** `CODE: message` of the innermost ApplicationFailure, which is what activities raise. */
function describeFailure(err: unknown): string {
  if (isCancellation(err)) return 'cancelled: workflow cancellation requested';
  let current: unknown = err;
  while (current instanceof Error) {
    if (current instanceof ApplicationFailure) {
      return current.type ? `${current.type}: ${current.message}` : current.message;
    }
    current = (current as Error & { cause?: unknown }).cause;
  }
  return err instanceof Error ? err.message : String(err);
}
