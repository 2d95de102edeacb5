// Reading a Temporal failure chain, the same way in the saga and in its client: activities
// raise the domain's refusal as an ApplicationFailure, which Temporal wraps (ActivityFailure,
// WorkflowFailedError, WorkflowUpdateFailedError...); the innermost ApplicationFailure is it.
import { ApplicationFailure, isCancellation } from '@temporalio/workflow';

/** The innermost ApplicationFailure of a failure chain; by name too, across module copies. */
export function innermostApplicationFailure(err: unknown): ApplicationFailure | undefined {
  let found: ApplicationFailure | undefined;
  for (let e: unknown = err; e instanceof Error; e = (e as { cause?: unknown }).cause) {
    if (e instanceof ApplicationFailure || e.name === 'ApplicationFailure') {
      found = e as ApplicationFailure;
    }
  }
  return found;
}

/** `CODE: message` of the innermost ApplicationFailure (the reason an order is cancelled for). */
export function describeFailure(err: unknown): string {
  if (isCancellation(err)) return 'cancelled: workflow cancellation requested';
  const failure = innermostApplicationFailure(err);
  if (failure) {
    if (failure.type === 'CANCELLED') return failure.message;
    return failure.type ? `${failure.type}: ${failure.message}` : failure.message;
  }
  return err instanceof Error ? err.message : String(err);
}
