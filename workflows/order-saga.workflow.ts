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
  deprecatePatch,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
  type LocalActivityOptions,
  type RetryPolicy,
} from '@temporalio/workflow';
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
  checkCancelReason,
  checkConfirmPayment,
  checkOrderLine,
  checkOrderSagaInput,
  checkSkipCompensation,
  type Checked,
} from './order-input-checks';
import { MAX_ITEMS_PER_ORDER, safeTotalCents } from './order-input';
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
import {
  ADD_ITEM_CAP_PATCH,
  exhaustedActivity,
  lastErrorOf,
  STEP_BOUNDS_PATCH,
  STEP_MAX_ATTEMPTS,
} from './step-bounds';

// Business refusals are non-retryable ApplicationFailures raised by the activities; anything
// else (database down, worker lost) is retried, STEP_MAX_ATTEMPTS times (forwardActivities)
// before the saga compensates, without limit for the confirm step as a remote activity
// (untilDone). The event-store
// activities take milliseconds: a short start-to-close timeout lets another worker take over
// soon after one dies mid-activity.
const retry: RetryPolicy = {
  initialInterval: '200 ms',
  backoffCoefficient: 2,
  maximumInterval: '10 seconds',
};
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

/** Remote activities retried without limit: the server retries them, adding no history. */
const remote = proxyActivities<OrderActivities>(remoteOptions);

/**
 * The forward steps' activities: tried `stepMaxAttempts` times (STEP_MAX_ATTEMPTS, about 5
 * minutes, by default), then the step fails and the saga compensates (STEP_UNAVAILABLE), long
 * before a retrying local activity could take the history near Temporal's event limit.
 */
function forwardActivities(input: OrderSagaInput): OrderActivities {
  const bounded = { ...retry, maximumAttempts: input.stepMaxAttempts ?? STEP_MAX_ATTEMPTS };
  return input.useLocalActivities
    ? proxyLocalActivities<OrderActivities>({ ...localOptions, retry: bounded })
    : proxyActivities<OrderActivities>({ ...remoteOptions, retry: bounded });
}

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

  /**
   * Joins the line. `turn` is what to await before acting, absent when the lock is free: a
   * free lock is taken at once, since waiting on a condition would cost a pass through the
   * activation loop and several promises, each carrying a captured stack. A cancelled scope
   * still goes through the condition, which throws as before. Every ticket is given back with
   * `leave`, also when the wait was cancelled.
   */
  enter(): { ticket: object; turn?: Promise<void> } {
    const ticket = {};
    this.queue.push(ticket);
    if (this.queue.length === 1 && !CancellationScope.current().consideredCancelled) {
      return { ticket };
    }
    return { ticket, turn: condition(() => this.queue[0] === ticket) };
  }

  /** Passes the turn to the next in line. */
  leave(ticket: object): void {
    this.queue.splice(this.queue.indexOf(ticket), 1);
  }

  /**
   * Runs `fn` (synchronous) in a turn of its own: at once, returning nothing, when the lock is
   * free; else returns the promise of its turn.
   */
  take(fn: () => void): Promise<void> | undefined {
    const { ticket, turn } = this.enter();
    if (turn) return turn.then(fn).finally(() => this.leave(ticket));
    try {
      fn();
    } finally {
      this.leave(ticket);
    }
    return undefined;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const { ticket, turn } = this.enter();
    try {
      if (turn) await turn;
      return await fn();
    } finally {
      this.leave(ticket);
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
  const checked = checkOrderSagaInput(raw);
  if (checked.ok) return checked.value;
  throw ApplicationFailure.create({
    type: 'INVALID_ORDER_INPUT',
    message: `invalid order input: ${checked.message}`,
    details: [checked.issues],
    nonRetryable: true,
  });
}

/** Refuses an update whose argument does not match its schema (INVALID_COMMAND). */
function parseArgument<T>(checked: Checked<T>): T {
  if (checked.ok) return checked.value;
  throw refusal(checked.message, 'INVALID_COMMAND');
}

/**
 * A cancel reason as sent: a string, `{ reason }` (what the order client and a CLI user send),
 * `{}` (the order client with no reason), or nothing.
 */
function cancelReason(value: unknown): { ok: true; reason?: string } | { ok: false } {
  const given =
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as { reason?: unknown }).reason
      : (value ?? undefined);
  const checked = checkCancelReason(given);
  return checked.ok ? { ok: true, reason: checked.value } : { ok: false };
}

// Not async: it returns the saga's own promise (one promise fewer, each carrying a captured
// stack), and an invalid input still rejects, as the SDK awaits the call in an async function.
export function orderSaga(rawInput: OrderSagaInput): Promise<OrderSagaResult> {
  const input = parseInput(rawInput);
  const paths = sagaPaths();
  const saga = new OrderSaga(input, paths.guarantees, paths.hotPath);
  saga.setHandlers();
  return saga.run();
}

/**
 * Changes that alter the saga's commands (cancel takes effect after the payment, the confirm
 * step cannot be cancelled, confirmation is only taken while awaited). Sagas of the release of
 * 2026-11-27 (afbf374) and older record no marker and take the path before it.
 */
const GUARANTEES_PATCH = 'order-saga-guarantees-v2';

/**
 * The hot path (on top of the guarantees): all products reserved by one activity, and the
 * search attributes the client set at start not upserted again. It implies the patch before:
 * a saga records this marker alone.
 */
const HOT_PATH_PATCH = 'order-saga-hot-path-v3';

/**
 * Earlier releases' order client wrote this memo ("the path stamp", value HOT_PATH_PATCH) so
 * that its sagas took the hot path without recording the marker. No client writes it now (a
 * saga is pinned to its worker's version, so nothing older than the hot path ever runs it),
 * but sagas so started still replay here, and one started by an older client while it is being
 * replaced may still arrive.
 */
const LEGACY_PATH_STAMP_MEMO = 'orderSagaPath';

/**
 * Which path this run takes: the one its history was recorded with. The memo is read from the
 * start event, so it says the same on every replay.
 */
function sagaPaths(): { guarantees: boolean; hotPath: boolean } {
  if (workflowInfo().memo?.[LEGACY_PATH_STAMP_MEMO] === HOT_PATH_PATCH) {
    // Every stamped saga took the hot path; a worker of the release before the stamp (which
    // ignored the memo) recorded the marker, the others did not. deprecatePatch is Temporal's
    // call for "the new branch, marker or not": it accepts both histories.
    deprecatePatch(HOT_PATH_PATCH);
    return { guarantees: true, hotPath: true };
  }
  // A fresh run records the hot path's marker: the older sagas that record none (afbf374's)
  // still run on this code, as unversioned sagas move to the current version.
  if (patched(HOT_PATH_PATCH)) return { guarantees: true, hotPath: true };
  return { guarantees: patched(GUARANTEES_PATCH), hotPath: false };
}

type SkipRequest = { compensation: string; reason: string };

/**
 * One saga: its state, the messages that act on it, its steps and its compensations. The
 * flags say where the saga stands for the messages that arrive while it runs.
 */
class OrderSaga {
  readonly state: SagaState;
  private readonly acts: OrderActivities;
  private readonly undo: OrderActivities;
  private readonly lines: OrderLine[];
  private readonly compensations: Compensation[] = [];
  private readonly lock = new TurnLock();
  private readonly steps = new CancellationScope();
  private failureReason: string | null = null;
  private paymentConfirmed = false;
  private retryRequested = false;
  private skipRequest: SkipRequest | null = null;
  private orderCreated = false;
  /** From here on the order's lines (and so the amount to pay) are final. */
  private paymentStarted = false;

  constructor(
    private readonly input: OrderSagaInput,
    /** Recorded before GUARANTEES_PATCH: the old path, for histories that replay it. */
    private readonly v2: boolean,
    /** HOT_PATH_PATCH: one reservation activity, no repeated search attributes. */
    private readonly v3: boolean,
  ) {
    this.acts = forwardActivities(input);
    this.undo = compensationActivities(input);
    this.lines = [...input.items];
    this.state = {
      status: 'running',
      step: null,
      completedSteps: [],
      compensations: [],
      lastError: null,
      items: this.lines,
      totalCents: orderTotalCents(this.lines),
      skippedCompensations: [],
    };
  }

  private get orderId(): string {
    return this.input.orderId;
  }

  private get correlationId(): string {
    return this.input.correlationId;
  }

  /** The reservation step has run: a line added from now on reserves its own stock. */
  private get reserved(): boolean {
    return this.state.completedSteps.includes('reserve_inventory');
  }

  // ---- messages -------------------------------------------------------------------------

  setHandlers(): void {
    const { orderId, state } = this;
    setHandler(sagaStateQuery, () => state);
    setHandler(cancelOrderSignal, (raw: unknown) => {
      const parsed = cancelReason(raw);
      if (!parsed.ok) {
        // A signal cannot be refused: a malformed one is logged and changes nothing.
        log.warn('cancelOrder signal ignored: the reason must be a string', { orderId });
        return;
      }
      this.requestCancel(parsed.reason);
    });
    setHandler(
      cancelOrderUpdate,
      (request): CancelOrderResult => ({
        orderId,
        outcome: this.requestCancel(cancelReasonOf(request)),
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
      if (!this.v2 || state.status === 'awaiting_payment_confirmation') {
        this.paymentConfirmed = true;
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
        this.paymentConfirmed = true;
        return { orderId, amountCents: request.amountCents, status: 'confirmed' };
      },
      { validator: (request) => this.validateConfirmation(request) },
    );
    setHandler(retryCompensationSignal, () => {
      this.retryRequested = true;
    });
    setHandler(
      skipCompensationUpdate,
      async (request) => {
        const { compensation, reason } = parseArgument(checkSkipCompensation(request));
        this.skipRequest = { compensation, reason };
        await condition(() => state.skippedCompensations.some((s) => s.name === compensation));
        return { orderId, skipped: compensation, status: state.status };
      },
      { validator: (request) => this.validateSkip(request) },
    );
    setHandler(addItemUpdate, (raw) => this.addItem(raw), {
      // Runs before the update is written to history: a refused update leaves no trace.
      validator: (raw) => {
        this.refuseUnlessPending();
        const line = parseArgument(checkOrderLine(raw));
        if (this.lines.length >= MAX_ITEMS_PER_ORDER) throw this.tooManyItems();
        if (safeTotalCents([...this.lines, line]) === undefined) {
          throw refusal(
            `the order total would exceed ${Number.MAX_SAFE_INTEGER} cents`,
            'INVALID_COMMAND',
          );
        }
      },
    });
  }

  private validateConfirmation(request: unknown): void {
    const { orderId, state } = this;
    const { amountCents } = parseArgument(checkConfirmPayment(request));
    if (state.status !== 'awaiting_payment_confirmation' || this.paymentConfirmed) {
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
  }

  private validateSkip(request: unknown): void {
    const { orderId, state } = this;
    const { compensation } = parseArgument(checkSkipCompensation(request));
    const failing = this.compensations[this.compensations.length - 1]?.name;
    if (state.status !== 'compensation_failed' || this.skipRequest !== null) {
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
  }

  private async addItem(raw: unknown): Promise<AddItemResult> {
    const { orderId, correlationId, lines, state } = this;
    const line = parseArgument(checkOrderLine(raw));
    // The order must exist before a line is appended to it.
    await condition(() => this.orderCreated || this.failureReason !== null || this.paymentStarted);
    return this.lock.run(async () => {
      this.refuseUnlessPending();
      // Updates accepted together all passed the validator: the cap is checked again in turn.
      if (lines.length >= MAX_ITEMS_PER_ORDER && patched(ADD_ITEM_CAP_PATCH)) {
        throw this.tooManyItems();
      }
      const index = lines.length;
      try {
        if (this.reserved) {
          this.registerRelease(line.productId);
          await this.acts.reserveInventory({
            orderId,
            productId: line.productId,
            // The order's total for this product: the activity reserves the difference.
            quantity: quantitiesByProduct([...lines, line]).get(line.productId)!,
            correlationId,
            step: `add_item:${index}:reserve`,
          });
        }
        await this.acts.addItem({ orderId, line, correlationId, step: `add_item:${index}` });
      } catch (err) {
        const unavailable = this.stepUnavailable('add_item', err);
        throw unavailable ? refusal(unavailable, 'STEP_UNAVAILABLE') : err;
      }
      lines.push(line);
      state.totalCents = orderTotalCents(lines);
      upsertSearchAttributes([{ key: OrderTotalCentsKey, value: state.totalCents }]);
      // Only the line added: echoing every line would make n updates cost O(n^2) payload.
      return { orderId, line, itemCount: lines.length, totalCents: state.totalCents };
    });
  }

  private tooManyItems(): ApplicationFailure {
    return refusal(
      `order ${this.orderId} already has ${this.lines.length} lines, the most an order may have ` +
        `(${MAX_ITEMS_PER_ORDER})`,
      'TOO_MANY_ITEMS',
      { maxItems: MAX_ITEMS_PER_ORDER },
    );
  }

  /**
   * `STEP_UNAVAILABLE: ...` when `err` is a step that kept failing transiently (the database
   * down) until its bound, else undefined (a business refusal goes by its own code).
   */
  private stepUnavailable(step: string, err: unknown): string | undefined {
    const exhausted = exhaustedActivity(err);
    if (!exhausted || !patched(STEP_BOUNDS_PATCH)) return undefined;
    const attempts = this.input.stepMaxAttempts ?? STEP_MAX_ATTEMPTS;
    return (
      `STEP_UNAVAILABLE: ${step} did not go through in ` +
      `${attempts} attempts: ${lastErrorOf(err)}`
    );
  }

  private refuseUnlessPending(): void {
    if (this.paymentStarted || this.failureReason !== null || this.state.status !== 'running') {
      const why =
        this.failureReason ?? (this.paymentStarted ? 'payment has started' : this.state.status);
      throw refusal(`Cannot add items to order ${this.orderId}: ${why}`, 'ORDER_NOT_PENDING');
    }
  }

  /** Whether the order will end cancelled: a cancel request now is too late once it will not. */
  private cancellable(): boolean {
    return (
      (this.state.status === 'running' || this.state.status === 'awaiting_payment_confirmation') &&
      this.state.step !== 'confirm_order'
    );
  }

  private requestCancel(reason: string | undefined): CancelOrderResult['outcome'] {
    if (this.failureReason !== null) return 'cancelled'; // already unwinding
    if (!this.cancellable()) return 'too late';
    this.failureReason = `cancelled: ${reason ?? 'requested by the customer'}`;
    this.steps.cancel();
    return 'cancelled';
  }

  // ---- the steps ------------------------------------------------------------------------

  async run(): Promise<OrderSagaResult> {
    const { orderId, state } = this;
    this.announce();

    try {
      await this.steps.run(() => this.forward());
      // A cancel accepted while the charge was finishing: the step completed, the order must
      // still end cancelled (the cancel answered "cancelled").
      if (this.v2 && this.failureReason !== null) throw refusal(this.failureReason, 'CANCELLED');

      // Outside the cancellable scope: a cancel request that arrives now is too late. A
      // Temporal cancellation cannot interrupt it either: confirm commits one product after
      // another, and an interrupted confirm would leave committed stock behind a cancelled
      // order.
      const confirm = () => this.confirmOrder();
      await (this.v2 ? CancellationScope.nonCancellable(confirm) : confirm());
    } catch (err) {
      this.failureReason ??=
        this.stepUnavailable(state.step ?? 'start', err) ?? describeFailure(err);
      state.lastError = this.failureReason;
      await CancellationScope.nonCancellable(() => this.lock.run(() => this.compensate()));
      this.setStatus('cancelled');
      state.step = null;
      if (!allHandlersFinished()) await handlersFinished();
      return { orderId, status: 'cancelled', reason: this.failureReason };
    }

    this.compensations.length = 0;
    state.compensations = [];
    state.step = null;
    this.setStatus('completed');
    if (!allHandlersFinished()) await handlersFinished();
    return { orderId, status: 'completed', reason: null };
  }

  /** The steps up to the payment: what a cancel request or a failure may still undo. */
  private async forward(): Promise<void> {
    await this.createOrder();
    this.orderCreated = true;
    await this.reserveInventory();
    // Taking the turn: an addItem accepted before now is done first; none is accepted after.
    const turn = this.lock.take(() => {
      this.paymentStarted = true;
    });
    if (turn) await turn;
    await this.processPayment();
  }

  /**
   * The search attributes a saga is listed by. The client sets them when it starts the saga; a
   * saga started otherwise (the Temporal CLI, another SDK) or reset gets the missing ones here.
   */
  private announce(): void {
    const wanted = [
      // A saga started with a reference is listed by it; every other one (all histories recorded
      // before references existed) by its customer id, as before.
      { key: CustomerIdKey, value: this.input.customerRef ?? this.input.customerId },
      { key: OrderTotalCentsKey, value: this.state.totalCents },
      { key: OrderStatusKey, value: 'running' },
    ] as const;
    if (!this.v3) {
      upsertSearchAttributes([...wanted]);
      return;
    }
    const current = workflowInfo().typedSearchAttributes;
    const missing = wanted.filter(({ key, value }) => current.get(key) !== value);
    if (missing.length > 0) upsertSearchAttributes(missing);
  }

  private createOrder(): Promise<void> {
    const { orderId, correlationId, input } = this;
    this.register({
      name: 'cancelOrder',
      run: () =>
        this.undo.cancelOrder({
          orderId,
          reason: this.failureReason ?? 'saga failed',
          correlationId,
          step: 'cancel_order',
          createdByStep: 'create_order',
        }),
    });
    return this.lockedStep('create_order', () =>
      this.acts.createOrder({
        orderId,
        customerId: input.customerId,
        currency: input.currency,
        items: [...this.lines],
        shippingAddress: input.shippingAddress,
        correlationId,
        step: 'create_order',
      }),
    );
  }

  private reserveInventory(): Promise<void> {
    const { orderId, correlationId } = this;
    return this.lockedStep('reserve_inventory', () => {
      const quantities = quantitiesByProduct(this.lines);
      if (!this.v3) return this.reserveOneByOne(quantities);
      // One activity for every product: each is still its own step (`reserve:SKU`), and each
      // product's release is registered before any is reserved.
      for (const productId of quantities.keys()) this.registerRelease(productId);
      return this.acts.reserveInventoryItems({
        orderId,
        items: [...quantities].map(([productId, quantity]) => ({ productId, quantity })),
        correlationId,
      });
    });
  }

  /** Recorded before HOT_PATH_PATCH: one activity per product. */
  private async reserveOneByOne(quantities: Map<string, number>): Promise<void> {
    const { orderId, correlationId } = this;
    for (const [productId, quantity] of quantities) {
      this.registerRelease(productId);
      await this.acts.reserveInventory({
        orderId,
        productId,
        quantity,
        correlationId,
        step: `reserve:${productId}`,
      });
    }
  }

  private async processPayment(): Promise<void> {
    const { orderId, correlationId, input, state } = this;
    const { customerId } = input;
    state.step = 'process_payment';
    if (state.totalCents > input.paymentConfirmationThresholdCents) {
      this.setStatus('awaiting_payment_confirmation');
      const confirmed = await condition(
        () => this.paymentConfirmed,
        input.paymentConfirmationTimeoutMs,
      );
      if (!confirmed) {
        throw refusal(
          `payment was not confirmed within ${input.paymentConfirmationTimeoutMs} ms`,
          'PAYMENT_CONFIRMATION_TIMEOUT',
        );
      }
      this.setStatus('running');
    }
    this.register({
      name: 'refundPayment',
      run: () => this.undo.refundPayment({ orderId, customerId, correlationId, step: 'refund' }),
    });
    await this.acts.chargePayment({
      orderId,
      customerId,
      amountCents: state.totalCents,
      correlationId,
      step: 'charge',
    });
    state.completedSteps.push('process_payment');
  }

  private async confirmOrder(): Promise<void> {
    this.state.step = 'confirm_order';
    const input = {
      orderId: this.orderId,
      productIds: [...quantitiesByProduct(this.lines).keys()],
      correlationId: this.correlationId,
      step: 'confirm',
    };
    await this.untilDone((acts) => acts.confirmOrder(input));
    this.state.completedSteps.push('confirm_order');
  }

  /**
   * A step that must not be given up (confirm may have committed part of the stock; recording a
   * skip): once its bounded attempts run out, it goes on as a remote activity retried without
   * limit, which the server retries with no history growth, until the database is back.
   */
  private async untilDone(call: (acts: OrderActivities) => Promise<void>): Promise<void> {
    try {
      await call(this.acts);
    } catch (err) {
      if (!exhaustedActivity(err) || !patched(STEP_BOUNDS_PATCH)) throw err;
      const before = this.state.lastError;
      this.state.lastError = this.stepUnavailable(this.state.step ?? 'step', err) ?? null;
      await call(remote);
      this.state.lastError = before;
    }
  }

  /**
   * A step that takes turns with addItem (TurnLock). One async function from the turn to the
   * step's end, and `body` returns its activity's promise: on the hot path each await is a
   * promise whose creation stack the worker captures (docs/benchmarks.md).
   */
  private async lockedStep(step: SagaStep, body: () => Promise<unknown>): Promise<void> {
    const { ticket, turn } = this.lock.enter();
    try {
      if (turn) await turn;
      this.state.step = step;
      await body();
      this.state.completedSteps.push(step);
    } finally {
      this.lock.leave(ticket);
    }
  }

  private setStatus(status: SagaStatus): void {
    this.state.status = status;
    upsertSearchAttributes([{ key: OrderStatusKey, value: status }]);
  }

  // ---- compensations --------------------------------------------------------------------

  private register(compensation: Compensation): void {
    this.compensations.push(compensation);
    this.state.compensations = this.compensations.map((c) => c.name).reverse();
  }

  private registerRelease(productId: string): void {
    const name = `releaseInventory:${productId}`;
    if (this.compensations.some((c) => c.name === name)) return; // one release frees all units held
    this.register({
      name,
      run: () =>
        this.undo.releaseInventory({
          orderId: this.orderId,
          productId,
          correlationId: this.correlationId,
          step: `release:${productId}`,
        }),
    });
  }

  private async compensate(): Promise<void> {
    const { compensations, state } = this;
    state.step = 'compensate';
    this.setStatus('compensating');
    for (;;) {
      const next = compensations[compensations.length - 1];
      if (!next) return;
      try {
        await next.run();
        compensations.pop();
        state.compensations = compensations.map((c) => c.name).reverse();
      } catch (err) {
        state.lastError = `compensation ${next.name} failed: ${describeFailure(err)}`;
        this.setStatus('compensation_failed');
        this.retryRequested = false;
        await condition(() => this.retryRequested || this.skipRequest !== null);
        const skip = this.skipRequest;
        if (skip) await this.skip(skip);
        this.setStatus('compensating');
      }
    }
  }

  /** The operator gives the failed compensation up: recorded in the event store, then dropped. */
  private async skip(skip: SkipRequest): Promise<void> {
    // Retried without limit (an append with any version can only fail transiently): a failure
    // escaping here would close the saga with compensations still owed.
    const recorded = {
      orderId: this.orderId,
      compensation: skip.compensation,
      reason: skip.reason,
      error: this.state.lastError,
      correlationId: this.correlationId,
      step: `skip:${skip.compensation}`,
    };
    await this.untilDone((acts) => acts.recordCompensationSkipped(recorded));
    this.compensations.pop();
    this.state.compensations = this.compensations.map((c) => c.name).reverse();
    this.state.skippedCompensations.push({ name: skip.compensation, reason: skip.reason });
    this.skipRequest = null;
  }
}

/** Waits until no update handler is still running (its caller gets its answer first). */
function handlersFinished(): Promise<void> {
  return CancellationScope.nonCancellable(() => condition(allHandlersFinished));
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
