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
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  type ActivityOptions,
  type LocalActivityOptions,
} from '@temporalio/workflow';
import type { ZodType } from 'zod';
import type { OrderActivities } from '../activities/order.activities';
import { orderTotalCents, type OrderLine } from '../domain/order';
import {
  addItemUpdate,
  cancelOrderSignal,
  cancelOrderUpdate,
  confirmPaymentSignal,
  confirmPaymentUpdate,
  retryCompensationSignal,
  sagaStateQuery,
  skipCompensationUpdate,
} from './messages';
import {
  cancelReasonSchema,
  confirmPaymentSchema,
  describeIssues,
  orderLineSchema,
  orderSagaInputSchema,
  safeTotalCents,
  skipCompensationSchema,
} from './order-input';
import { CustomerIdKey, OrderStatusKey, OrderTotalCentsKey } from './search-attributes';
import type {
  AddItemResult,
  CancelOrderResult,
  ConfirmPaymentResult,
  OrderSagaInput,
  OrderSagaResult,
  SagaState,
  SagaStatus,
  SagaStep,
} from './types';
import { describeFailure } from './failures';

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

/**
 * Attempts of a compensation before the saga parks in compensation_failed: with the backoff
 * above (200 ms doubling to 10 s), 10 attempts span about 40 s, so a database restart or a
 * failover does not need an operator; a compensation refused for good still ends up there.
 */
const COMPENSATION_MAX_ATTEMPTS = 10;

function compensationActivities(input: OrderSagaInput): OrderActivities {
  const limited = {
    ...retry,
    maximumAttempts: input.compensationMaxAttempts ?? COMPENSATION_MAX_ATTEMPTS,
  };
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

/**
 * The input as the saga may use it, or a non-retryable INVALID_ORDER_INPUT failure naming the
 * field. Thrown before any command, so an invalid start closes in its first workflow task and
 * writes no event.
 */
function parseInput(raw: unknown): OrderSagaInput {
  const parsed = orderSagaInputSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw ApplicationFailure.create({
    type: 'INVALID_ORDER_INPUT',
    message: `invalid order input: ${describeIssues(parsed.error)}`,
    details: [parsed.error.issues.map((i) => ({ path: i.path.map(String), message: i.message }))],
    nonRetryable: true,
  });
}

/** Refuses an update whose argument does not match its schema (INVALID_COMMAND). */
function parseArgument<T>(schema: ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw refusal(describeIssues(parsed.error), 'INVALID_COMMAND');
}

/** A cancel reason as sent: a string, `{ reason }` (what a CLI user types), or nothing. */
function cancelReason(value: unknown): { ok: true; reason?: string } | { ok: false } {
  const given =
    value !== null && typeof value === 'object' && 'reason' in value
      ? value.reason
      : (value ?? undefined);
  const parsed = cancelReasonSchema.safeParse(given);
  return parsed.success ? { ok: true, reason: parsed.data } : { ok: false };
}

/**
 * Changes that alter the saga's commands (cancel takes effect after the payment, the confirm
 * step cannot be cancelled, confirmation is only taken while awaited): histories recorded
 * before them replay down the old path.
 */
const GUARANTEES_PATCH = 'order-saga-guarantees-v2';

export async function orderSaga(rawInput: OrderSagaInput): Promise<OrderSagaResult> {
  const input = parseInput(rawInput);
  const v2 = patched(GUARANTEES_PATCH);
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
    skippedCompensations: [],
  };
  const compensations: Compensation[] = [];
  const lock = new TurnLock();
  const steps = new CancellationScope();
  let failureReason: string | null = null;
  let paymentConfirmed = false;
  let retryRequested = false;
  let skipRequest: { compensation: string; reason: string } | null = null;
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
    register({
      name,
      run: () =>
        undo.releaseInventory({ orderId, productId, correlationId, step: `release:${productId}` }),
    });
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
  /** Whether the order will end cancelled: a cancel request now is too late once it will not. */
  const cancellable = () =>
    (state.status === 'running' || state.status === 'awaiting_payment_confirmation') &&
    state.step !== 'confirm_order';
  const requestCancel = (reason: string | undefined): CancelOrderResult['outcome'] => {
    if (failureReason !== null) return 'cancelled'; // already unwinding
    if (!cancellable()) return 'too late';
    failureReason = `cancelled: ${reason ?? 'requested by the customer'}`;
    steps.cancel();
    return 'cancelled';
  };

  setHandler(sagaStateQuery, () => state);
  setHandler(cancelOrderSignal, (raw: unknown) => {
    const parsed = cancelReason(raw);
    if (!parsed.ok) {
      // A signal cannot be refused: a malformed one is logged and changes nothing.
      log.warn('cancelOrder signal ignored: the reason must be a string', { orderId });
      return;
    }
    requestCancel(parsed.reason);
  });
  setHandler(
    cancelOrderUpdate,
    (request): CancelOrderResult => ({
      orderId,
      outcome: requestCancel(cancelReasonOf(request)),
      status: state.status,
    }),
    {
      validator: (request) => {
        if (!cancelReason(request).ok) {
          throw refusal('the reason must be a string of 1 to 500 characters', 'INVALID_COMMAND');
        }
      },
    },
  );
  setHandler(confirmPaymentSignal, () => {
    if (!v2 || state.status === 'awaiting_payment_confirmation') {
      paymentConfirmed = true;
      return;
    }
    // Not latched: a confirmation answers the saga's question, it cannot come before it.
    log.warn('confirmPayment signal ignored: the saga is not awaiting a confirmation', {
      orderId,
      status: state.status,
    });
  });
  setHandler(
    confirmPaymentUpdate,
    (request): ConfirmPaymentResult => {
      paymentConfirmed = true;
      return { orderId, amountCents: request.amountCents, status: 'confirmed' };
    },
    {
      validator: (request) => {
        const { amountCents } = parseArgument(confirmPaymentSchema, request);
        if (state.status !== 'awaiting_payment_confirmation' || paymentConfirmed) {
          throw refusal(
            `order ${orderId} is not awaiting a payment confirmation (saga ${state.status}, ` +
              `step ${state.step ?? 'none'})`,
            'PAYMENT_CONFIRMATION_NOT_AWAITED',
            { status: state.status },
          );
        }
        if (amountCents !== state.totalCents) {
          throw refusal(
            `confirmed ${amountCents} cents but order ${orderId} totals ${state.totalCents} cents`,
            'PAYMENT_AMOUNT_MISMATCH',
            { amountCents, totalCents: state.totalCents },
          );
        }
      },
    },
  );
  setHandler(retryCompensationSignal, () => {
    retryRequested = true;
  });
  setHandler(
    skipCompensationUpdate,
    async (request) => {
      const { compensation, reason } = parseArgument(skipCompensationSchema, request);
      skipRequest = { compensation, reason };
      await condition(() => state.skippedCompensations.some((s) => s.name === compensation));
      return { orderId, skipped: compensation, status: state.status };
    },
    {
      validator: (request) => {
        const { compensation } = parseArgument(skipCompensationSchema, request);
        const failing = compensations[compensations.length - 1]?.name;
        if (state.status !== 'compensation_failed' || skipRequest !== null) {
          throw refusal(
            `order ${orderId} has no failed compensation to skip (saga ${state.status})`,
            'COMPENSATION_NOT_FAILED',
          );
        }
        if (compensation !== failing) {
          throw refusal(
            `the failed compensation of order ${orderId} is ${failing}, not ${compensation}`,
            'UNKNOWN_COMPENSATION',
            { failing },
          );
        }
      },
    },
  );
  setHandler(
    addItemUpdate,
    async (raw): Promise<AddItemResult> => {
      const line = parseArgument(orderLineSchema, raw);
      // The order must exist before a line is appended to it.
      await condition(() => orderCreated || failureReason !== null || paymentStarted);
      return lock.run(async () => {
        refuseUnlessPending();
        const index = lines.length;
        if (reserved) {
          registerRelease(line.productId);
          await acts.reserveInventory({
            orderId,
            productId: line.productId,
            // The order's total for this product: the activity reserves the difference.
            quantity: quantitiesByProduct([...lines, line]).get(line.productId)!,
            correlationId,
            step: `add_item:${index}:reserve`,
          });
        }
        await acts.addItem({ orderId, line, correlationId, step: `add_item:${index}` });
        lines.push(line);
        state.totalCents = orderTotalCents(lines);
        upsertSearchAttributes([{ key: OrderTotalCentsKey, value: state.totalCents }]);
        return { orderId, items: [...lines], totalCents: state.totalCents };
      });
    },
    {
      // Runs before the update is written to history: a refused update leaves no trace.
      validator: (raw) => {
        refuseUnlessPending();
        const line = parseArgument(orderLineSchema, raw);
        if (safeTotalCents([...lines, line]) === undefined) {
          throw refusal(
            `the order total would exceed ${Number.MAX_SAFE_INTEGER} cents`,
            'INVALID_COMMAND',
          );
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
          undo.cancelOrder({
            orderId,
            reason: failureReason ?? 'saga failed',
            correlationId,
            step: 'cancel_order',
            createdByStep: 'create_order',
          }),
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
            step: 'create_order',
          }),
        ),
      );
      orderCreated = true;

      await lock.run(() =>
        runStep('reserve_inventory', async () => {
          for (const [productId, quantity] of quantitiesByProduct(lines)) {
            registerRelease(productId);
            await acts.reserveInventory({
              orderId,
              productId,
              quantity,
              correlationId,
              step: `reserve:${productId}`,
            });
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
          run: () => undo.refundPayment({ orderId, customerId, correlationId, step: 'refund' }),
        });
        await acts.chargePayment({
          orderId,
          customerId,
          amountCents: state.totalCents,
          correlationId,
          step: 'charge',
        });
      });
    });
    // A cancel accepted while the charge was finishing: the step completed, the order must
    // still end cancelled (the cancel answered "cancelled").
    if (v2 && failureReason !== null) throw refusal(failureReason, 'CANCELLED');

    // Outside the cancellable scope: a cancel request that arrives now is too late. A
    // Temporal cancellation cannot interrupt it either: confirm commits one product after
    // another, and an interrupted confirm would leave committed stock behind a cancelled order.
    const confirm = () =>
      runStep('confirm_order', () =>
        acts.confirmOrder({
          orderId,
          productIds: [...quantitiesByProduct(lines).keys()],
          correlationId,
          step: 'confirm',
        }),
      );
    await (v2 ? CancellationScope.nonCancellable(confirm) : confirm());
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
        await condition(() => retryRequested || skipRequest !== null);
        const skip: { compensation: string; reason: string } | null = skipRequest;
        if (skip) {
          // The operator gives this compensation up: recorded in the event store, then dropped.
          // Retried without limit (an append with any version can only fail transiently): a
          // failure escaping here would close the saga with compensations still owed.
          await acts.recordCompensationSkipped({
            orderId,
            compensation: skip.compensation,
            reason: skip.reason,
            error: state.lastError,
            correlationId,
            step: `skip:${skip.compensation}`,
          });
          compensations.pop();
          state.compensations = compensations.map((c) => c.name).reverse();
          state.skippedCompensations.push({ name: skip.compensation, reason: skip.reason });
          skipRequest = null;
        }
        setStatus('compensating');
      }
    }
  }
}

function cancelReasonOf(request: unknown): string | undefined {
  const parsed = cancelReason(request);
  return parsed.ok ? parsed.reason : undefined;
}

function quantitiesByProduct(items: readonly OrderLine[]): Map<string, number> {
  const totals = new Map<string, number>();
  for (const item of items)
    totals.set(item.productId, (totals.get(item.productId) ?? 0) + item.quantity);
  return totals;
}
