// The watch over workflow threads, on a stand-in thread whose idle time the test controls.
import { EventEmitter } from 'node:events';
import type { Logger } from '@temporalio/common';
import {
  checkWorkflowThreads,
  STUCK_THREAD_AFTER_MS,
  type WatchedThread,
  watchWorkflowThread,
} from './workflow-threads';

function standIn(threadId: number) {
  const events = new EventEmitter();
  let idle = 100;
  const thread = {
    threadId,
    performance: {
      eventLoopUtilization: () => ({ idle, active: 0, utilization: 0 }),
    },
    on: (event: string, listener: () => void) => {
      events.on(event, listener);
      return thread;
    },
    once: (event: string, listener: () => void) => {
      events.once(event, listener);
      return thread;
    },
  } as unknown as WatchedThread;
  return {
    thread,
    pause: () => (idle += 10),
    answer: () => events.emit('message', { requestId: 1 }),
    exit: () => {
      // As Node does: an exited thread's id reads -1, and its loop reads all zeros.
      (thread as { threadId: number }).threadId = -1;
      idle = 0;
      events.emit('exit', 0);
    },
  };
}

function recordingLogger() {
  const warnings: { message: string; meta?: Record<string, unknown> }[] = [];
  const logger = {
    warn: (message: string, meta?: Record<string, unknown>) => warnings.push({ message, meta }),
  } as unknown as Logger;
  return { logger, warnings };
}

test('a thread that neither pauses nor answers is reported once, and again when it runs', () => {
  const t0 = 1_000_000;
  const { thread, pause, exit } = standIn(7);
  const { logger, warnings } = recordingLogger();
  watchWorkflowThread(thread, logger, t0);
  try {
    checkWorkflowThreads(t0 + STUCK_THREAD_AFTER_MS - 1);
    expect(warnings).toEqual([]);
    checkWorkflowThreads(t0 + STUCK_THREAD_AFTER_MS);
    checkWorkflowThreads(t0 + STUCK_THREAD_AFTER_MS + 1_000);
    expect(warnings).toEqual([
      {
        message: expect.stringMatching(
          /^Workflow thread has neither paused nor answered for 5 s: .*loop/,
        ),
        meta: { threadId: 7 },
      },
    ]);
    pause();
    checkWorkflowThreads(t0 + 8_000);
    expect(warnings[1]).toEqual({
      message: 'Workflow thread runs again after 8 s',
      meta: { threadId: 7 },
    });
    // Busy stretches shorter than the limit say nothing.
    checkWorkflowThreads(t0 + 8_000 + STUCK_THREAD_AFTER_MS - 1);
    pause();
    checkWorkflowThreads(t0 + 8_000 + STUCK_THREAD_AFTER_MS);
    expect(warnings).toHaveLength(2);
  } finally {
    exit();
  }
  // An exited thread is no longer read.
  checkWorkflowThreads(t0 + 60_000);
  expect(warnings).toHaveLength(2);
});

/** Checks a watched stand-in every second for 30 s, `act` on it before each check. */
function thirtySeconds(threadId: number, t0: number, act: 'pause' | 'answer') {
  const standing = standIn(threadId);
  const recording = recordingLogger();
  watchWorkflowThread(standing.thread, recording.logger, t0);
  for (let s = 1; s <= 30; s++) {
    standing[act]();
    checkWorkflowThreads(t0 + s * 1_000);
  }
  return { ...standing, ...recording };
}

test('a thread that pauses between checks is never reported', () => {
  const { warnings, exit } = thirtySeconds(8, 2_000_000, 'pause');
  exit();
  expect(warnings).toEqual([]);
});

test('a thread busy without a pause but answering (a saturated worker) is not reported', () => {
  const t0 = 3_000_000;
  const { warnings, exit } = thirtySeconds(9, t0, 'answer');
  expect(warnings).toEqual([]);
  // It stops answering: a single activation that long is reported.
  checkWorkflowThreads(t0 + 30_000 + STUCK_THREAD_AFTER_MS);
  exit();
  expect(warnings).toEqual([
    {
      message: expect.stringMatching(/^Workflow thread has neither paused nor answered for 5 s/),
      meta: { threadId: 9 },
    },
  ]);
});
