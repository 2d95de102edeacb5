// Safe deployment: every recorded orderSaga history (one per path, test/fixtures/histories, and
// each hot-path one as a worker of the release before records it for a saga this release's
// client started) replays against the current workflow code, the same bundle the workers run.
// A change that would break a running saga (a step added, removed or reordered without a new
// path in workflows/saga-paths.ts) makes the replay fail with a determinism error, so it fails
// CI before it reaches a worker.
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { EARLIER_FIXTURE_DIRS, loadHistoryFixtures } from '../test/saga-histories';
import { NEWEST_SAGA_PATH, SAGA_PATH_MEMO } from './saga-paths';

jest.setTimeout(60_000);
Runtime.install({ logger: new DefaultLogger('WARN') });

type History = temporal.api.history.v1.History;
const { History } = temporal.api.history.v1;

const recorded = loadHistoryFixtures();

/**
 * A saga started by this release's client and run by a worker of the release before (which has
 * the hot path but not the stamp): that worker ignores the memo, so its history is a before-stamp
 * recording whose start event carries the stamp.
 */
function stampedByTheReleaseBefore({ name, history }: { name: string; history: History }) {
  const copy = History.decode(History.encode(history).finish());
  const started = copy.events[0]?.workflowExecutionStartedEventAttributes;
  if (!started?.memo?.fields) throw new Error(`${name}: no memo in the start event`);
  started.memo.fields[SAGA_PATH_MEMO] = defaultPayloadConverter.toPayload(NEWEST_SAGA_PATH);
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

async function replayAll(workflowBundle: { codePath: string } | { code: string }) {
  const results: { name: string; error?: string }[] = [];
  const replays = Worker.runReplayHistories(
    { workflowBundle },
    histories.map(({ name, history }) => ({ workflowId: name, history })),
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

test('the current recordings took the newest path: stamped, with no patch marker', () => {
  for (const { name, history } of recorded.filter((h) => !h.name.includes('/'))) {
    const memo = history.events[0]?.workflowExecutionStartedEventAttributes?.memo?.fields ?? {};
    const stamp = memo[SAGA_PATH_MEMO] && defaultPayloadConverter.fromPayload(memo[SAGA_PATH_MEMO]);
    // Started by the client, which sets the customer at start: the saga does not repeat it,
    // and with no marker the SDK's core upserts no TemporalChangeVersion either.
    const upserted = (history.events ?? []).flatMap((e) =>
      Object.keys(
        e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {},
      ),
    );
    expect({ name, stamp, patches: patchMarkers(history), upserted }).toEqual({
      name,
      stamp: NEWEST_SAGA_PATH,
      patches: [],
      upserted: expect.not.arrayContaining(['CustomerId', 'TemporalChangeVersion']),
    });
  }
  // The hot path as recorded before the stamp: one marker, for the hot path.
  for (const { name, history } of recorded.filter((h) => h.name.startsWith('before-stamp/'))) {
    expect({ name, patches: patchMarkers(history) }).toEqual({
      name,
      patches: ['order-saga-hot-path-v3'],
    });
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
