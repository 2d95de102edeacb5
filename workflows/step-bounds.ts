// How long a forward step of the saga may keep retrying before the saga gives up and
// compensates, and how its exhaustion is told apart from a business refusal. Without a bound a
// retrying local activity grows the history by about 3 events per workflow-task heartbeat
// (~1,350 an hour), and a Postgres outage of about 1.5 days took the saga past Temporal's
// 51,200-event limit: terminated with stock held (docs/saga.md, "A long outage").
import { RetryState } from '@temporalio/common';
import type { ApplicationFailure } from '@temporalio/workflow';

/** The saga's version marker for bounded steps (recorded only when a step runs out). */
export const STEP_BOUNDS_PATCH = 'order-saga-step-bounds';
/** The saga's version marker for the addItem cap (recorded only when an addItem is refused). */
export const ADD_ITEM_CAP_PATCH = 'order-saga-add-item-cap';

/**
 * Default attempts of a forward step. With the saga's backoff (200 ms doubling to 10 s), 36
 * attempts span about 5 minutes of an unreachable database (more when attempts hang until their
 * 10 s timeout): a restart or failover (tens of seconds to a few minutes) goes through without
 * an operator, and a local activity retrying that long adds about 110 events to the history.
 */
export const STEP_MAX_ATTEMPTS = 36;

/**
 * What ran out, when `err` is a step that kept failing transiently (the database down) until its
 * bound, else undefined: a business refusal (non-retryable), a cancellation, a bug. Read by name,
 * since failure classes lose `instanceof` across module copies.
 *
 * A remote activity's exhaustion is an ActivityFailure whose retryState says so. A local
 * activity's reaches the workflow unwrapped (SDK 1.24, checked in order-saga.outage.int.test.ts):
 * the last attempt's own retryable ApplicationFailure, or a TimeoutFailure; a retryable failure
 * only gets out of an activity once its retries are spent, so that is exhaustion too.
 */
export function exhaustedActivity(err: unknown): { retryState: string } | undefined {
  if (!(err instanceof Error)) return undefined;
  if (err.name === 'ActivityFailure') {
    const { retryState } = err as { retryState?: string };
    if (retryState !== RetryState.MAXIMUM_ATTEMPTS_REACHED && retryState !== RetryState.TIMEOUT)
      return undefined;
    // A refusal raised as non-retryable is the domain's answer, whatever the retry state says.
    for (let c: unknown = err; c instanceof Error; c = (c as { cause?: unknown }).cause) {
      if (c.name === 'ApplicationFailure' && (c as ApplicationFailure).nonRetryable)
        return undefined;
    }
    return { retryState };
  }
  if (err.name === 'ApplicationFailure' && !(err as ApplicationFailure).nonRetryable)
    return { retryState: RetryState.MAXIMUM_ATTEMPTS_REACHED };
  if (err.name === 'TimeoutFailure') return { retryState: RetryState.TIMEOUT };
  return undefined;
}

/** The innermost message of a failure chain: the transient error the step last met. */
export function lastErrorOf(err: unknown): string {
  let message = err instanceof Error ? err.message : String(err);
  for (let e: unknown = err; e instanceof Error; e = (e as { cause?: unknown }).cause) {
    if (e.message) message = e.message;
  }
  return message;
}
