// orderSaga: create the order, reserve inventory, take payment (waiting for confirmation of
// large payments on a durable timer), confirm. On any business failure or a cancel request,
// run the registered compensations in reverse, then cancel the order with the reason.
//
// Compensations are registered before their step runs (a step that commits just as it fails
// is still undone; every compensation is a no-op when there is nothing to undo), run in a
// non-cancellable scope, and a compensation that keeps failing parks the saga in
// compensation_failed until an operator sends retryCompensation. Nothing is dropped.
//
// The addItem update and the main flow take turns through one lock, so a line added while the
// saga reserves stock is either reserved by the reservation step or reserves its own stock
// (registering its release first), and compensation never runs beside a half-done addItem.
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  type ActivityOptions,
  type LocalActivityOptions,
} from '@temporalio/workflow';
import type { OrderActivities } from '../activities/order.activities';
import { orderTotalCents, validateLine, type OrderLine } from '../domain/order';
import {
  addItemUpdate,
  cancelOrderSignal,
  confirmPaymentSignal,
  retryCompensationSignal,
  sagaStateQuery,
} from './messages';
import { CustomerIdKey, OrderStatusKey, OrderTotalCentsKey } from './search-attributes';
import type {
  AddItemResult,
  OrderSagaInput,
  OrderSagaResult,
  SagaState,
  SagaStatus,
  SagaStep,
} from './types';

// Business refusals are non-retryable ApplicationFailures raised by the activities; anything
// else (database down, worker lost) is retried until it goes through. The event-store
// activities take milliseconds: a short start-to-close timeout lets another worker take over
// soon after one dies mid-activity.
const retry = { initialInterval: '200 ms', backoffCoefficient: 2, maximumInterval: '10 seconds' };
const remoteOptions: ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  // Let a running step finish before compensating, so its effects are known when we undo them.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry,
};
const localOptions: LocalActivityOptions = {
  startToCloseTimeout: '10 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry,
};

const remote = proxyActivities<OrderActivities>(remoteOptions);
const local = proxyLocalActivities<OrderActivities>(localOptions);

function compensationActivities(input: OrderSagaInput): OrderActivities {
  const limited = { ...retry, maximumAttempts: input.compensationMaxAttempts ?? 5 };
  return input.useLocalActivities
    ? proxyLocalActivities<OrderActivities>({ ...localOptions, retry: limited })
    : proxyActivities<OrderActivities>({ ...remoteOptions, retry: limited });
}

interface Compensation {
  name: string;
  run: () => Promise<void>;
}

/**
 * Mutual exclusion between the main flow and update handlers, first come first served (an
 * update accepted while a step runs goes before the step that follows). Deterministic: it
 * only uses workflow state and `condition`.
 */
class TurnLock {
  private readonly queue: object[] = [];

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const ticket = {};
    this.queue.push(ticket);
    try {
      // A free lock is taken at once: waiting on a condition would cost a pass through the
      // activation loop and several promises, each carrying a captured stack. A cancelled
      // scope still goes through the condition, which throws as before.
      if (this.queue.length > 1 || CancellationScope.current().consideredCancelled) {
        await condition(() => this.queue[0] === ticket);
      }
      return await fn();
    } finally {
      // Also when the wait was cancelled: the turn passes to the next in line.
      this.queue.splice(this.queue.indexOf(ticket), 1);
    }
  }
}

function refusal(message: string, code: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, code, ...(details ? [details] : []));
}

export async function orderSaga(input: OrderSagaInput): Promise<OrderSagaResult> {
  const acts = input.useLocalActivities ? local : remote;
  const undo = compensationActivities(input);
  const { orderId, customerId, correlationId } = input;
  const lines: OrderLine[] = [...input.items];

  const state: SagaState = {
    status: 'running',
    step: null,
    completedSteps: [],
    compensations: [],
    lastError: null,
    items: lines,
    totalCents: orderTotalCents(lines),
  };
  const compensations: Compensation[] = [];
  const lock = new TurnLock();
  const steps = new CancellationScope();
  let failureReason: string | null = null;
  let paymentConfirmed = false;
  let retryRequested = false;
  let orderCreated = false;
  /** The reservation step has run: a line added from now on reserves its own stock. */
  let reserved = false;
  /** From here on the order's lines (and so the amount to pay) are final. */
  let paymentStarted = false;

  const setStatus = (status: SagaStatus) => {
    state.status = status;
    upsertSearchAttributes([{ key: OrderStatusKey, value: status }]);
  };
  const register = (compensation: Compensation) => {
    compensations.push(compensation);
    state.compensations = compensations.map((c) => c.name).reverse();
  };
  const registerRelease = (productId: string) => {
    const name = `releaseInventory:${productId}`;
    if (compensations.some((c) => c.name === name)) return; // one release frees all units held
    register({ name, run: () => undo.releaseInventory({ orderId, productId, correlationId }) });
  };
  const runStep = async (step: SagaStep, body: () => Promise<void>) => {
    state.step = step;
    await body();
    state.completedSteps.push(step);
  };
  const refuseUnlessPending = () => {
    if (paymentStarted || failureReason !== null || state.status !== 'running') {
      throw refusal(
        `Cannot add items to order ${orderId}: ${failureReason ?? (paymentStarted ? 'payment has started' : state.status)}`,
        'ORDER_NOT_PENDING',
      );
    }
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
  setHandler(
    addItemUpdate,
    async (line): Promise<AddItemResult> => {
      // The order must exist before a line is appended to it.
      await condition(() => orderCreated || failureReason !== null || paymentStarted);
      return lock.run(async () => {
        refuseUnlessPending();
        if (reserved) {
          registerRelease(line.productId);
          await acts.reserveInventory({
            orderId,
            productId: line.productId,
            // The order's total for this product: the activity reserves the difference.
            quantity: quantitiesByProduct([...lines, line]).get(line.productId)!,
            correlationId,
          });
        }
        await acts.addItem({ orderId, line, correlationId });
        lines.push(line);
        state.totalCents = orderTotalCents(lines);
        upsertSearchAttributes([{ key: OrderTotalCentsKey, value: state.totalCents }]);
        return { orderId, items: [...lines], totalCents: state.totalCents };
      });
    },
    {
      // Runs before the update is written to history: a refused update leaves no trace.
      validator: (line) => {
        refuseUnlessPending();
        try {
          validateLine(line);
        } catch (err) {
          throw refusal(err instanceof Error ? err.message : 'invalid line', 'INVALID_COMMAND');
        }
      },
    },
  );

  upsertSearchAttributes([
    { key: CustomerIdKey, value: customerId },
    { key: OrderTotalCentsKey, value: state.totalCents },
    { key: OrderStatusKey, value: 'running' },
  ]);

  try {
    await steps.run(async () => {
      register({
        name: 'cancelOrder',
        run: () =>
          undo.cancelOrder({ orderId, reason: failureReason ?? 'saga failed', correlationId }),
      });
      await lock.run(() =>
        runStep('create_order', () =>
          acts.createOrder({
            orderId,
            customerId,
            currency: input.currency,
            items: [...lines],
            shippingAddress: input.shippingAddress,
            correlationId,
          }),
        ),
      );
      orderCreated = true;

      await lock.run(() =>
        runStep('reserve_inventory', async () => {
          for (const [productId, quantity] of quantitiesByProduct(lines)) {
            registerRelease(productId);
            await acts.reserveInventory({ orderId, productId, quantity, correlationId });
          }
          reserved = true;
        }),
      );

      await lock.run(async () => {
        paymentStarted = true;
      });
      await runStep('process_payment', async () => {
        if (state.totalCents > input.paymentConfirmationThresholdCents) {
          setStatus('awaiting_payment_confirmation');
          const confirmed = await condition(
            () => paymentConfirmed,
            input.paymentConfirmationTimeoutMs,
          );
          if (!confirmed) {
            throw refusal(
              `payment was not confirmed within ${input.paymentConfirmationTimeoutMs} ms`,
              'PAYMENT_CONFIRMATION_TIMEOUT',
            );
          }
          setStatus('running');
        }
        register({
          name: 'refundPayment',
          run: () => undo.refundPayment({ orderId, customerId, correlationId }),
        });
        await acts.chargePayment({
          orderId,
          customerId,
          amountCents: state.totalCents,
          correlationId,
        });
      });
    });

    // Outside the cancellable scope: a cancel request that arrives now is too late.
    await runStep('confirm_order', () =>
      acts.confirmOrder({
        orderId,
        productIds: [...quantitiesByProduct(lines).keys()],
        correlationId,
      }),
    );
  } catch (err) {
    failureReason ??= describeFailure(err);
    state.lastError = failureReason;
    await CancellationScope.nonCancellable(() => lock.run(compensate));
    setStatus('cancelled');
    state.step = null;
    await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
    return { orderId, status: 'cancelled', reason: failureReason };
  }

  compensations.length = 0;
  state.compensations = [];
  state.step = null;
  setStatus('completed');
  await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
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

function quantitiesByProduct(items: readonly OrderLine[]): Map<string, number> {
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
