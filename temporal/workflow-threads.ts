// How the worker runs workflow code: the SDK's threads, with or without its per-call timeout,
// with the stacks behind the UI's Stack Trace tab formatted only when asked for
// (workflow-stacks.cjs), and a watch over those threads that reports one stuck in a loop.
//
// The SDK stops a workflow that loops without yielding by giving every call into its sandbox a
// timeout (isolateExecutionTimeout, 5 s by default). Node enforces a vm timeout with a watchdog
// thread that it creates and joins for each call, and the SDK calls into the sandbox about 17
// times per order: 15% of the worker's CPU per order (docs/benchmarks.md).
// WORKFLOW_ISOLATE_TIMEOUT chooses: 0 (the default) runs the sandbox without the timeout, as
// the Go, Java and Python SDKs run workflow code, and a loop is reported (below) instead of
// stopped; a duration restores the SDK's timeout.
import path from 'node:path';
import { Worker as NodeWorkerThread } from 'node:worker_threads';
import type { Logger } from '@temporalio/common';
import { Worker, type WorkerOptions } from '@temporalio/worker';
import {
  ThreadedVMWorkflowCreator,
  WorkerThreadClient,
} from '@temporalio/worker/lib/workflow/threaded-vm';

/** A workflow thread that has neither paused nor answered for this long is reported, once. */
export const STUCK_THREAD_AFTER_MS = 5_000;
const CHECK_EVERY_MS = 1_000;

interface Watched {
  thread: WatchedThread;
  logger: Logger;
  /** The thread's idle time at the last check. */
  idle: number;
  /** It has answered the main thread since the last check. */
  answered: boolean;
  /** When it last paused or answered. */
  movedAt: number;
  reported: boolean;
}

const watched = new Map<number, Watched>();
let timer: NodeJS.Timeout | undefined;

/**
 * A thread's event loop accrues idle time whenever it waits for work, and the thread answers
 * the main thread after each workflow activation. One that does neither for
 * STUCK_THREAD_AFTER_MS is inside a single activation that long: a workflow looping without
 * awaiting. A saturated thread, busy without a break, still answers, and is not reported. The
 * check costs nothing on the hot path.
 */
export function checkWorkflowThreads(now: number): void {
  for (const [id, w] of watched) {
    const { idle } = w.thread.performance.eventLoopUtilization();
    if (idle > w.idle || w.answered) {
      // At WARN, beside the warning it ends (the SDK's INFO lines are off by default).
      if (w.reported)
        w.logger.warn(
          `Workflow thread runs again after ${Math.round((now - w.movedAt) / 1000)} s`,
          { threadId: id },
        );
      w.reported = false;
      w.idle = idle;
      w.answered = false;
      w.movedAt = now;
    } else if (!w.reported && now - w.movedAt >= STUCK_THREAD_AFTER_MS) {
      w.reported = true;
      w.logger.warn(
        'Workflow thread has neither paused nor answered for ' +
          `${Math.round((now - w.movedAt) / 1000)} s: a workflow may be looping without ` +
          'awaiting (its workflow task times out and every workflow on this thread waits). ' +
          'WORKFLOW_ISOLATE_TIMEOUT makes the SDK stop such a loop.',
        { threadId: id },
      );
    }
  }
}

/** The part of a worker thread the watch reads. */
export type WatchedThread = Pick<NodeWorkerThread, 'threadId' | 'performance' | 'on' | 'once'>;

export function watchWorkflowThread(thread: WatchedThread, logger: Logger, now = Date.now()): void {
  const w: Watched = {
    thread,
    logger,
    idle: thread.performance.eventLoopUtilization().idle,
    answered: false,
    movedAt: now,
    reported: false,
  };
  // Node sets threadId to -1 once the thread has exited.
  const { threadId } = thread;
  watched.set(threadId, w);
  thread.on('message', () => {
    w.answered = true;
  });
  thread.once('exit', () => {
    watched.delete(threadId);
    if (watched.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  });
  timer ??= setInterval(() => checkWorkflowThreads(Date.now()), CHECK_EVERY_MS).unref();
}

/**
 * What each workflow thread runs: the SDK's own thread script, with the formatting of the
 * stacks behind the `__stack_trace` query deferred until it is read (workflow-stacks.cjs).
 */
const sdkThreadModule = (name: string) =>
  JSON.stringify(require.resolve(`@temporalio/worker/lib/workflow/${name}`));
const THREAD_SOURCE = `
  require(${JSON.stringify(path.join(__dirname, 'workflow-stacks.cjs'))})
    .deferStackFormatting(require(${sdkThreadModule('vm-shared')}).globalHandlers);
  require(${sdkThreadModule('workflow-worker-thread')});
`;

/**
 * Worker.create for the project's workers, with three changes to the SDK's workflow threads
 * (started as the SDK starts them, from its own thread script): each is watched (above), keeps
 * the stacks of its workflows' promises unformatted until they are queried, and gives each call
 * into its sandbox `isolateTimeoutMs` (WORKFLOW_ISOLATE_TIMEOUT) as its timeout, or none when
 * it is 0.
 */
export function createWorker(options: WorkerOptions, isolateTimeoutMs: number): Promise<Worker> {
  // The option is not public (the SDK fixes it at 5 s); Node's vm takes undefined as none.
  const isolateExecutionTimeoutMs = (isolateTimeoutMs > 0 ? isolateTimeoutMs : undefined)!;
  class ProjectWorker extends Worker {
    protected static override async createWorkflowCreator(
      ...[bundle, compiled, logger]: Parameters<typeof Worker.createWorkflowCreator>
    ): ReturnType<typeof Worker.createWorkflowCreator> {
      // debugMode runs workflows on the main thread, as the SDK does.
      if (compiled.debugMode)
        return super.createWorkflowCreator(
          bundle,
          { ...compiled, isolateExecutionTimeoutMs },
          logger,
        );
      const threads = Array.from({ length: compiled.workflowThreadPoolSize }, () => {
        const thread = new NodeWorkerThread(THREAD_SOURCE, { eval: true });
        return {
          thread,
          client: new WorkerThreadClient(thread, logger, compiled.patchActivationCallback),
        };
      });
      try {
        await Promise.all(
          threads.map(({ client }) =>
            client.send({
              type: 'init',
              workflowBundle: bundle,
              isolateExecutionTimeoutMs,
              reuseV8Context: compiled.reuseV8Context,
              registeredActivityNames: new Set(compiled.activities.keys()),
              hasPatchActivationCallback: compiled.patchActivationCallback !== undefined,
            }),
          ),
        );
      } catch (err) {
        // A bundle that fails to load: no thread is left behind the failed Worker.create.
        await Promise.all(threads.map(({ thread }) => thread.terminate()));
        throw err;
      }
      // Watched once started: loading the SDK and the bundle is one busy stretch, which can
      // last seconds on a loaded machine and is not a stuck workflow.
      for (const { thread } of threads) watchWorkflowThread(thread, logger);
      return new ThreadedVMWorkflowCreator(threads.map(({ client }) => client));
    }
  }
  return ProjectWorker.create(options);
}
