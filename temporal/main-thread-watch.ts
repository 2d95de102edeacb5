// The watch over a worker that runs workflow code on its main thread (WORKFLOW_THREADS=0): a
// workflow looping without awaiting holds that thread, and with it the activities, the API
// beside them and the log, so the watch lives on a thread of its own. The main thread ticks a
// shared counter every half second; the watch reads it every second and, when it has not moved
// for STUCK_MAIN_THREAD_AFTER_MS, writes one warning straight to stdout (its own pino logger,
// synchronous, the same line format as the app's), and another once the counter moves again.
import { Worker as NodeWorkerThread } from 'node:worker_threads';

/** A main thread that has not turned its event loop for this long is reported, once. */
export const STUCK_MAIN_THREAD_AFTER_MS = 5_000;
const TICK_EVERY_MS = 500;

export interface MainThreadWatchOptions {
  /** LOG_LEVEL of the watch's logger (default `warn`: its only lines are warnings). */
  level?: string;
  /** Where its lines go: a file descriptor or a path (default 1, stdout). */
  destination?: number | string;
  stuckAfterMs?: number;
  checkEveryMs?: number;
}

const WATCH_SOURCE = `
  const { workerData } = require('node:worker_threads');
  const pino = require(${JSON.stringify(require.resolve('pino'))});
  const { level, destination, stuckAfterMs, checkEveryMs } = workerData;
  const log = pino(
    { name: 'order-saga', level, base: { pid: process.pid } },
    pino.destination({ dest: destination, sync: true }),
  ).child({ component: 'temporal' });
  const ticks = new Int32Array(workerData.ticks);
  let seen = Atomics.load(ticks, 0);
  let movedAt = Date.now();
  let reported = false;
  setInterval(() => {
    const now = Date.now();
    const tick = Atomics.load(ticks, 0);
    if (tick !== seen) {
      if (reported)
        log.warn(
          { threadId: 0 },
          'Worker main thread runs again after ' + Math.round((now - movedAt) / 1000) + ' s',
        );
      seen = tick;
      movedAt = now;
      reported = false;
    } else if (!reported && now - movedAt >= stuckAfterMs) {
      reported = true;
      log.warn(
        { threadId: 0 },
        'Worker main thread has not turned its event loop for ' +
          Math.round((now - movedAt) / 1000) + ' s: a workflow may be looping without ' +
          'awaiting (workflow code runs on this thread, WORKFLOW_THREADS=0: activities and ' +
          'the API wait with it). WORKFLOW_ISOLATE_TIMEOUT makes the SDK stop such a loop; ' +
          'WORKFLOW_THREADS=1 keeps it off the main thread.',
      );
    }
  }, checkEveryMs);
`;

interface Watch {
  thread: NodeWorkerThread;
  ticker: NodeJS.Timeout;
  users: number;
}
let current: Watch | undefined;

/**
 * Starts the watch (one per process, shared by the workers that run workflows on the main
 * thread, with the first one's options) and returns what stops it for this caller; the last one
 * stopping ends its thread. Neither the thread nor the ticker keeps the process alive.
 */
export function watchMainThread(options: MainThreadWatchOptions = {}): () => Promise<void> {
  if (!current) {
    const stuckAfterMs = options.stuckAfterMs ?? STUCK_MAIN_THREAD_AFTER_MS;
    const ticks = new Int32Array(new SharedArrayBuffer(4));
    const thread = new NodeWorkerThread(WATCH_SOURCE, {
      eval: true,
      workerData: {
        ticks: ticks.buffer,
        level: options.level ?? 'warn',
        destination: options.destination ?? 1,
        stuckAfterMs,
        checkEveryMs: options.checkEveryMs ?? 1_000,
      },
      // The app's loader flags (tsx) are not needed: the source is plain JavaScript.
      execArgv: [],
    });
    thread.unref();
    // A watch that fails (stdout closed under it) must not take the worker down with it.
    thread.on('error', (err) =>
      process.emitWarning(`The main thread's watch stopped: ${err.message}`),
    );
    // Several ticks per limit, so that a late timer on a loaded machine is not a stall.
    const tickEveryMs = Math.min(TICK_EVERY_MS, stuckAfterMs / 4);
    const ticker = setInterval(() => Atomics.add(ticks, 0, 1), tickEveryMs).unref();
    current = { thread, ticker, users: 0 };
  }
  const watch = current;
  watch.users++;
  let stopped = false;
  return async () => {
    if (stopped) return;
    stopped = true;
    if (--watch.users > 0) return;
    if (current === watch) current = undefined;
    clearInterval(watch.ticker);
    await watch.thread.terminate();
  };
}
