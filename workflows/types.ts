// Shapes shared by the saga, its clients (CLI, HTTP API) and its activities.
import type { OrderLine } from '../domain/order';

export interface OrderSagaInput {
  orderId: string;
  customerId: string;
  currency: string;
  items: OrderLine[];
  shippingAddress: Record<string, unknown> | null;
  /** Orders whose total is above this wait for a confirmPayment signal. */
  paymentConfirmationThresholdCents: number;
  paymentConfirmationTimeoutMs: number;
  /** Carried into every event's metadata, from the HTTP request or CLI call that started it. */
  correlationId: string;
  /** Run the event-store activities as local activities (fewer server round trips). */
  useLocalActivities?: boolean;
  /** Attempts per compensation before the saga waits in compensation_failed (default 10). */
  compensationMaxAttempts?: number;
  /**
   * Attempts of a forward step before the saga compensates with STEP_UNAVAILABLE (default 36,
   * about 5 minutes: workflows/step-bounds.ts); tests make it small.
   */
  stepMaxAttempts?: number;
  /**
   * What the saga is listed by in Temporal's visibility (the CustomerId search attribute) in
   * place of the customer id, when a master key is set: an HMAC under the customer's own key
   * (keys/personal-data.ts), which no one can compute again once the customer is forgotten.
   */
  customerRef?: string;
}

export type SagaStatus =
  | 'running'
  | 'awaiting_payment_confirmation'
  | 'compensating'
  | 'compensation_failed'
  | 'completed'
  | 'cancelled';

export type SagaStep = 'create_order' | 'reserve_inventory' | 'process_payment' | 'confirm_order';

export interface SagaState {
  status: SagaStatus;
  step: SagaStep | 'compensate' | null;
  completedSteps: SagaStep[];
  /** Compensations still registered, in the order they would run. */
  compensations: string[];
  lastError: string | null;
  /** The order's lines, including those added by the addItem update. */
  items: OrderLine[];
  totalCents: number;
  /** Compensations an operator gave up (skipCompensation), with the reason given. */
  skippedCompensations: { name: string; reason: string }[];
}

/**
 * What the addItem update returns: the line added, the order's line count and total after it
 * (not every line: n updates would carry O(n^2) lines; `sagaState` has them all).
 */
export interface AddItemResult {
  orderId: string;
  line: OrderLine;
  itemCount: number;
  totalCents: number;
}

export interface CancelOrderResult {
  orderId: string;
  /** `cancelled`: the order will end cancelled; `too late`: it is being or was confirmed. */
  outcome: 'cancelled' | 'too late';
  status: SagaStatus;
}

export interface ConfirmPaymentResult {
  orderId: string;
  amountCents: number;
  status: 'confirmed';
}

export interface SkipCompensationResult {
  orderId: string;
  skipped: string;
  status: SagaStatus;
}

export interface OrderSagaResult {
  orderId: string;
  status: 'completed' | 'cancelled';
  reason: string | null;
}

export const workflowIdFor = (orderId: string): string => `order-${orderId}`;
