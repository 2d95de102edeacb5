// Which of orderSaga's code paths a run takes: the one its history was recorded with.
//
// Every change to the saga's commands is a patch (Temporal's patched()), and a saga started
// since a patch records its marker. The marker is not free: one more history event, and an
// upsert of the TemporalChangeVersion search attribute that the SDK's core makes beside it
// (one more visibility write), about 1.5 ms of CPU per saga (docs/benchmarks.md). So the order
// client stamps every saga it starts with the newest path in its memo, and a stamped saga
// takes that path without a marker. Imported by the workflow and by the client.

/**
 * Changes that alter the saga's commands (cancel takes effect after the payment, the confirm
 * step cannot be cancelled, confirmation is only taken while awaited): histories recorded
 * before them replay down the old path.
 */
export const GUARANTEES_PATCH = 'order-saga-guarantees-v2';

/**
 * The hot path (on top of the guarantees): all products reserved by one activity, and the
 * search attributes the client set at start not upserted again. Histories recorded before it
 * replay down the old path. It implies the patch before: an unstamped saga records this
 * marker alone.
 */
export const HOT_PATH_PATCH = 'order-saga-hot-path-v3';

/** Memo key of the stamp; its value names the path (the newest patch's id). */
export const SAGA_PATH_MEMO = 'orderSagaPath';

/** What the order client stamps on each saga it starts. */
export const NEWEST_SAGA_PATH = HOT_PATH_PATCH;

export interface SagaPaths {
  /** GUARANTEES_PATCH: false only for histories recorded before it. */
  guarantees: boolean;
  /** HOT_PATH_PATCH: one reservation activity, no repeated search attributes. */
  hotPath: boolean;
}

/**
 * The stamp is read from the start event, so it says the same on every replay. A stamped saga
 * may still have a marker in its history: a worker of the release before this one (which has
 * the hot path but not the stamp) ignores the memo and records one. On replay the marker is
 * claimed with patched(), as Temporal requires of a recorded marker; a fresh run calls nothing
 * and records nothing. An unstamped saga (started with the Temporal CLI, the Web UI or another
 * client, or recorded before the stamp existed) decides by its markers, as before.
 *
 * A stamp this code does not know (from a newer client) is not trusted: the saga decides by its
 * markers and records this path's, which tells a newer worker replaying it which path it took.
 * A stamped saga run by a worker older than the hot path would take the old path and fail to
 * replay here: a deployment rolls forward one release at a time, as Temporal's patching also
 * assumes.
 */
export function chooseSagaPaths(
  stamp: unknown,
  replaying: boolean,
  patched: (patchId: string) => boolean,
): SagaPaths {
  if (stamp === NEWEST_SAGA_PATH) {
    if (replaying) patched(HOT_PATH_PATCH);
    return { guarantees: true, hotPath: true };
  }
  const hotPath = patched(HOT_PATH_PATCH);
  return { guarantees: hotPath || patched(GUARANTEES_PATCH), hotPath };
}
