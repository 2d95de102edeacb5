// Safe deployment: every recorded orderSaga history (one per path, test/fixtures/histories, with
// the recordings of earlier code in its folders, and each before-stamp one as a worker of that
// release recorded it for a saga the stamping client started) replays against the current
// workflow code, the same bundle the workers run. A change that would break a running saga (a
// step added, removed or reordered without a patch) makes the replay fail with a determinism
// error, so it fails CI before it reaches a worker.
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { EARLIER_FIXTURE_DIRS, loadHistoryFixtures } from '../test/saga-histories';

jest.setTimeout(60_000);
Runtime.install({ logger: new DefaultLogger('WARN') });

type History = temporal.api.history.v1.History;
const { History } = temporal.api.history.v1;

const recorded = loadHistoryFixtures();

/** The memo an earlier order client stamped its sagas with, and the value it wrote. */
const PATH_STAMP_MEMO = 'orderSagaPath';
const HOT_PATH_PATCH = 'order-saga-hot-path-v3';

/**
 * A saga started by the stamping client and run by a worker of the release before the stamp
 * (which has the hot path): that worker ignores the memo, so its history is a before-stamp
 * recording whose start event carries the stamp.
 */
function stampedByTheReleaseBefore({ name, history }: { name: string; history: History }) {
  const copy = History.decode(History.encode(history).finish());
  const started = copy.events[0]?.workflowExecutionStartedEventAttributes;
  if (!started?.memo?.fields) throw new Error(`${name}: no memo in the start event`);
  started.memo.fields[PATH_STAMP_MEMO] = defaultPayloadConverter.toPayload(HOT_PATH_PATCH);
  return { name: name.replace(/^before-stamp\//, 'stamped-by-the-release-before/'), history: copy };
}

const histories = [
  ...recorded,
  ...recorded.filter((h) => h.name.startsWith('before-stamp/')).map(stampedByTheReleaseBefore),
];

/** The ids of the patch markers a history holds. */
function patchMarkers(history: History): (string | undefined)[] {
  return (history.events ?? [])
    .map((e) => e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data)
    .filter((d): d is Uint8Array => d != null)
    .map((d) => (JSON.parse(Buffer.from(d).toString('utf8')) as { id?: string }).id);
}

/** The stamp in a history's start event, if any. */
function stampOf(history: History): unknown {
  const memo = history.events[0]?.workflowExecutionStartedEventAttributes?.memo?.fields ?? {};
  const payload = memo[PATH_STAMP_MEMO];
  return payload ? defaultPayloadConverter.fromPayload(payload) : undefined;
}

async function replayAll(
  workflowBundle: { codePath: string } | { code: string },
  which: { name: string; history: History }[] = histories,
) {
  const results: { name: string; error?: string }[] = [];
  const replays = Worker.runReplayHistories(
    { workflowBundle },
    which.map(({ name, history }) => ({ workflowId: name, history })),
  );
  for await (const result of replays) {
    results.push({
      name: result.workflowId,
      ...(result.error ? { error: `${result.error.name}: ${result.error.message}` } : {}),
    });
  }
  return results;
}

const PATHS = [
  'add-item',
  'add-item-refused-after-payment',
  // Recorded by order-saga.guarantees.int.test.ts (the updates, the non-cancellable confirm).
  'add-item-update-id',
  'cancel-during-confirm',
  'confirm-update-after-refusals',
  'skip-compensation',
  'cancel-after-reservation',
  'compensation-retry',
  'confirmation-in-time',
  'confirmation-timeout',
  'happy-path',
  'insufficient-stock',
  'local-activities-happy',
  'local-activities-insufficient',
  'payment-declined',
].sort();

test('there is a recorded history for every path of the saga, now and before each change', () => {
  expect(recorded.map((h) => h.name).sort()).toEqual(
    [...PATHS, ...EARLIER_FIXTURE_DIRS.flatMap((dir) => PATHS.map((p) => `${dir}/${p}`))].sort(),
  );
});

test('each recording holds the markers and stamp of the path it took', () => {
  const upserted = (history: History) =>
    (history.events ?? []).flatMap((e) =>
      Object.keys(
        e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {},
      ),
    );
  for (const { name, history } of recorded) {
    const folder = name.includes('/') ? name.split('/')[0] : 'current';
    const seen = { name, stamp: stampOf(history), patches: patchMarkers(history) };
    switch (folder) {
      case 'current':
        // The hot path records its marker; the client set the customer at start, so the saga
        // does not repeat it.
        expect(seen).toEqual({ name, stamp: undefined, patches: [HOT_PATH_PATCH] });
        expect(upserted(history)).not.toContain('CustomerId');
        break;
      case 'stamped':
        expect(seen).toEqual({ name, stamp: HOT_PATH_PATCH, patches: [] });
        break;
      case 'before-stamp':
        expect(seen).toEqual({ name, stamp: undefined, patches: [HOT_PATH_PATCH] });
        break;
      case 'before-hot-path':
        // The guarantees' marker, or none (the path of the release of 2026-11-27).
        expect(seen.stamp).toBeUndefined();
        expect([[], ['order-saga-guarantees-v2']]).toContainEqual(seen.patches);
        break;
      default:
        throw new Error(`${name}: a fixture folder this test does not know`);
    }
  }
});

test('every recorded history replays against the current workflow code', async () => {
  const codePath = process.env.TEST_WORKFLOW_BUNDLE;
  if (!codePath) throw new Error('TEST_WORKFLOW_BUNDLE is not set: run through jest');
  const results = await replayAll({ codePath });
  expect(results).toEqual(histories.map(({ name }) => ({ name })));
});

test('an unsafe change of the workflow fails the replay', async () => {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../test/fixtures/unsafe-saga'),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
  });
  const results = await replayAll({ code });
  expect(results).toHaveLength(histories.length);
  for (const result of results) {
    expect(result.error).toMatch(/DeterminismViolationError|[Nn]ondetermin/);
  }
});

test('the stamp still selects the path of the histories that carry it', async () => {
  // Without it, a stamped history (no marker) would be replayed down the path of the release
  // of 2026-11-27, which records no marker either: the legacy read in sagaPaths is load-bearing.
  const unstamped = recorded
    .filter((h) => h.name.startsWith('stamped/'))
    .map(({ name, history }) => {
      const copy = History.decode(History.encode(history).finish());
      delete copy.events[0]!.workflowExecutionStartedEventAttributes!.memo!.fields![
        PATH_STAMP_MEMO
      ];
      return { name, history: copy };
    });
  const codePath = process.env.TEST_WORKFLOW_BUNDLE!;
  const results = await replayAll({ codePath }, unstamped);
  expect(results).toHaveLength(PATHS.length);
  for (const result of results) {
    expect(result.error).toMatch(/DeterminismViolationError|[Nn]ondetermin/);
  }
});
