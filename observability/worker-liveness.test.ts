// The liveness check on a fake clock and a worker's public status: the event loop's delay is
// remembered for the window, a worker whose poll loop stopped asking for tasks is not live.
import type { WorkerStatus } from '@temporalio/worker';
import { WorkerLivenessCheck, type WorkerView } from './worker-liveness';

function fakeWorker() {
  const status: WorkerStatus = {
    runState: 'RUNNING',
    workflowPollerState: 'POLLING',
    activityPollerState: 'POLLING',
    hasOutstandingWorkflowPoll: true,
    hasOutstandingActivityPoll: true,
    numInFlightWorkflowActivations: 0,
    numInFlightActivities: 0,
    numInFlightNonLocalActivities: 0,
    numInFlightLocalActivities: 0,
    numCachedWorkflows: 0,
    numHeartbeatingActivities: 0,
  };
  const worker: WorkerView = { getState: () => status.runState, getStatus: () => ({ ...status }) };
  return { status, worker };
}

function setup() {
  let now = 0;
  const { status, worker } = fakeWorker();
  const check = new WorkerLivenessCheck(worker, {
    maxEventLoopLagMs: 1_000,
    windowMs: 10_000,
    tickMs: 500,
    now: () => now,
  });
  /** Advances the clock in on-time ticks. */
  const run = (ms: number) => {
    for (let end = now + ms; now + 500 <= end;) {
      now += 500;
      check.tick();
    }
  };
  const stall = (ms: number) => {
    now += 500 + ms;
    check.tick();
  };
  return { check, status, run, stall, at: () => now };
}

test('on-time ticks and outstanding polls are live', () => {
  const { check, run } = setup();
  run(60_000);
  expect(check.report()).toEqual({
    live: true,
    reasons: [],
    eventLoopLagMs: 0,
    workerState: 'RUNNING',
    workflowPollerState: 'POLLING',
    activityPollerState: 'POLLING',
  });
});

test('a delay over the limit fails the check for the window, then no more', () => {
  const { check, run, stall } = setup();
  run(5_000);
  stall(800);
  expect(check.report().live).toBe(true);
  stall(2_500);
  expect(check.report()).toMatchObject({
    live: false,
    eventLoopLagMs: 2_500,
    reasons: ['event loop delayed 2500 ms (limit 1000 ms)'],
  });
  run(9_500);
  expect(check.report().live).toBe(false);
  run(1_000);
  expect(check.report()).toMatchObject({ live: true, eventLoopLagMs: 0 });
});

test('a tick overdue right now counts as a delay', () => {
  let now = 0;
  const { worker } = fakeWorker();
  const check = new WorkerLivenessCheck(worker, { tickMs: 500, now: () => now });
  now = 7_000;
  expect(check.report().reasons).toEqual(['event loop delayed 6500 ms (limit 5000 ms)']);
});

test('no outstanding workflow poll for a whole window: not live; a poll again: live', () => {
  const { check, status, run } = setup();
  run(1_000);
  status.hasOutstandingWorkflowPoll = false;
  run(10_000);
  expect(check.report().live).toBe(true);
  run(1_000);
  expect(check.report()).toMatchObject({
    live: false,
    reasons: ['no workflow task poll for 11 s'],
  });
  status.hasOutstandingWorkflowPoll = true;
  run(500);
  expect(check.report().live).toBe(true);
});

test('a failed poller or a worker not RUNNING is named', () => {
  const { check, status, run } = setup();
  run(1_000);
  status.activityPollerState = 'FAILED';
  status.runState = 'DRAINING';
  expect(check.report()).toMatchObject({
    live: false,
    reasons: ['worker is DRAINING', 'activity poller is FAILED'],
    workerState: 'DRAINING',
    activityPollerState: 'FAILED',
  });
});
