// Safe deployment: every recorded orderSaga history (one per path, test/fixtures/histories)
// replays against the current workflow code, the same bundle the workers run. A change that
// would break a running saga (a step added, removed or reordered without patched()) makes the
// replay fail with a determinism error, so it fails CI before it reaches a worker.
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { EARLIER_FIXTURE_DIRS, loadHistoryFixtures } from '../test/saga-histories';

jest.setTimeout(60_000);
Runtime.install({ logger: new DefaultLogger('WARN') });

const histories = loadHistoryFixtures();

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

test('there is a recorded history for every path of the saga, now and before each patch', () => {
  expect(histories.map((h) => h.name).sort()).toEqual(
    [...PATHS, ...EARLIER_FIXTURE_DIRS.flatMap((dir) => PATHS.map((p) => `${dir}/${p}`))].sort(),
  );
});

test('the current recordings took the newest path', () => {
  for (const { name, history } of histories.filter((h) => !h.name.includes('/'))) {
    const markers = (history.events ?? [])
      .map((e) => e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data)
      .filter((d): d is Uint8Array => d != null)
      .map((d) => JSON.parse(Buffer.from(d).toString('utf8')) as { id?: string });
    expect({ name, patches: markers.map((m) => m.id) }).toEqual({
      name,
      patches: ['order-saga-hot-path-v3'],
    });
    // Started by the client, which sets the customer at start: the saga does not repeat it.
    const upserted = (history.events ?? []).flatMap((e) =>
      Object.keys(
        e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {},
      ),
    );
    expect({ name, upserted }).toEqual({
      name,
      upserted: expect.not.arrayContaining(['CustomerId']),
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
