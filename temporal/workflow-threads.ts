// How the worker runs workflow code: on its main thread (WORKFLOW_THREADS=0, the default) or on
// threads of its own, with or without the SDK's per-call timeout, with the stacks behind the
// UI's Stack Trace tab formatted only when asked for (workflow-stacks.cjs) or not recorded at
// all (WORKFLOW_STACK_TRACES=false; the SDK's debugMode keeps its own), in a V8 context with
// ordinary globals (workflow-globals.cjs), and a watch that reports a workflow stuck in a loop
// (below for threads, main-thread-watch.ts for the main one).
//
// The SDK runs workflows on a thread of its own and passes every activation, its completion and
// its sink calls between threads as messages: 17% of the worker's CPU per order for a bare
// workflow with four local activities, 7% for the saga (docs/benchmarks.md). On the main thread
// none of that happens; the price is isolation: a workflow looping without awaiting holds the
// activities and the API too.
//
// The SDK stops such a loop by giving every call into its sandbox a timeout
// (isolateExecutionTimeout, 5 s by default). Node enforces a vm timeout with a watchdog thread
// that it creates and joins for each call, and the SDK calls into the sandbox about 17 times per
// order: 15% of the worker's CPU per order. WORKFLOW_ISOLATE_TIMEOUT chooses: 0 (the default)
// runs the sandbox without the timeout, as the Go, Java and Python SDKs run workflow code, and a
// loop is reported instead of stopped; a duration restores the SDK's timeout.
import path from 'node:path';
import { Worker as NodeWorkerThread } from 'node:worker_threads';
import type { Logger } from '@temporalio/common';
import { Worker, type WorkerOptions } from '@temporalio/worker';
import type { Workflow } from '@temporalio/worker/lib/workflow/interface';
import {
  ThreadedVMWorkflowCreator,
  WorkerThreadClient,
} from '@temporalio/worker/lib/workflow/threaded-vm';
import type { CompiledWorkerOptions } from '@temporalio/worker/lib/worker-options';
import {
  invokePatchActivationCallback,
  type WorkflowPatchActivationCallback,
} from '@temporalio/worker/lib/workflow/patch-activation-callback';
import { ReusableVMWorkflowCreator } from '@temporalio/worker/lib/workflow/reusable-vm';
import { globalHandlers } from '@temporalio/worker/lib/workflow/vm-shared';
import { watchMainThread } from './main-thread-watch';
/* eslint-disable @typescript-eslint/no-require-imports */
const { deferStackFormattingInWorkflowCalls } = require('./workflow-stacks.cjs');
const { ordinaryWorkflowGlobals } = require('./workflow-globals.cjs') as {
  ordinaryWorkflowGlobals: () => () => void;
};
/* eslint-enable @typescript-eslint/no-require-imports */

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
 * stacks behind the `__stack_trace` query deferred until it is read (workflow-stacks.cjs), and
 * its workflow context created with ordinary globals (workflow-globals.cjs; the thread creates
 * no other context).
 */
const sdkThreadModule = (name: string) =>
  JSON.stringify(require.resolve(`@temporalio/worker/lib/workflow/${name}`));
const threadSource = (stacks: 'deferStackFormatting' | 'noStackTraces') => `
  require(${JSON.stringify(path.join(__dirname, 'workflow-stacks.cjs'))})
    .${stacks}(require(${sdkThreadModule('vm-shared')}).globalHandlers);
  require(${JSON.stringify(path.join(__dirname, 'workflow-globals.cjs'))}).ordinaryWorkflowGlobals();
  require(${sdkThreadModule('workflow-worker-thread')});
`;

/**
 * The SDK's reusable sandbox (one V8 context, each workflow's globals swapped in on each call),
 * its context created with ordinary globals (workflow-globals.cjs).
 */
class OrdinaryGlobalsWorkflowCreator extends ReusableVMWorkflowCreator {
  constructor(...args: ConstructorParameters<typeof ReusableVMWorkflowCreator>) {
    const restore = ordinaryWorkflowGlobals();
    try {
      super(...args);
    } finally {
      restore();
    }
  }
}

/** How the project's workers run workflow code (WORKFLOW_THREADS, WORKFLOW_ISOLATE_TIMEOUT). */
export interface WorkflowSandbox {
  /**
   * 0 (the default, unless the options set workflowThreadPoolSize): on the worker's main thread,
   * as the SDK's debugMode does, with no message between threads per activation; N: on N threads
   * of their own, as the SDK's default does.
   */
  threads?: number;
  /** The timeout of each call into the sandbox, in ms; 0 (the default): none. */
  isolateTimeoutMs?: number;
  /** LOG_LEVEL, for the watch over a main thread running workflow code (main-thread-watch.ts). */
  logLevel?: string;
  /**
   * true (the default): where each workflow promise is made is recorded, for the `__stack_trace`
   * query (the UI's Stack Trace tab); false: nothing is recorded and the query answers that
   * stack traces are not enabled on this worker (WORKFLOW_STACK_TRACES).
   */
  stackTraces?: boolean;
}

/** The worker's patchActivationCallback, as the SDK hands it to its in-process sandbox. */
function patchActivationCallbackOf(
  compiled: CompiledWorkerOptions,
): WorkflowPatchActivationCallback | undefined {
  const callback = compiled.patchActivationCallback;
  return callback && ((info, patchId) => invokePatchActivationCallback(callback, info, patchId));
}

/** Runs the synchronous part of a call into workflow code (workflow-stacks.cjs). */
type InWorkflow = <T>(call: () => T) => T;

/**
 * The deferred stacks on the main thread, once per process, before its first sandbox: the hook
 * runs only inside calls into workflow code. Once the SDK's own hook is installed (a replay
 * worker ran in this process first) it stays: same answers, formatted eagerly, for every
 * promise.
 */
let mainThreadStacks: InWorkflow | undefined;
function mainThreadStackHook(): InWorkflow {
  mainThreadStacks ??= globalHandlers.promiseHookInstalled
    ? (call) => call()
    : (deferStackFormattingInWorkflowCalls(globalHandlers) as InWorkflow);
  return mainThreadStacks;
}

/**
 * A main-thread workflow of a worker without stack traces: the sandbox's workflows take whether
 * stack traces are on from the process-wide hook, which other workers of the process may use,
 * so each of these says it has none (the query then answers that they are not enabled).
 */
function withoutStackTraces(workflow: Workflow): Workflow {
  const { activator } = workflow as Workflow & { activator?: { stackTracesEnabled?: boolean } };
  if (activator === undefined || !('stackTracesEnabled' in activator))
    throw new Error('the SDK no longer keeps stackTracesEnabled on its activator');
  activator.stackTracesEnabled = false;
  return workflow;
}

/** A workflow whose every call into the sandbox runs with the stack hook on. */
function hookedWorkflow(workflow: Workflow, inWorkflow: InWorkflow): Workflow {
  return {
    activate: (activation) => inWorkflow(() => workflow.activate(activation)),
    getAndResetSinkCalls: () => inWorkflow(() => workflow.getAndResetSinkCalls()),
    dispose: () => inWorkflow(() => workflow.dispose()),
  };
}

/**
 * Worker.create for the project's workers. Workflow code runs on the main thread by default,
 * watched from a thread of its own (main-thread-watch.ts), or on `sandbox.threads` threads
 * started as the SDK starts them, from its own thread script, each one watched (above). Either
 * way the stacks of its workflows' promises stay unformatted until they are queried, and each
 * call into the sandbox gets `isolateTimeoutMs` as its timeout, or none when it is 0.
 */
export function createWorker(
  options: WorkerOptions,
  sandbox: WorkflowSandbox = {},
): Promise<Worker> {
  // The SDK's own option still counts when WORKFLOW_THREADS is not given.
  const threadCount = sandbox.threads ?? options.workflowThreadPoolSize ?? 0;
  const stackTraces = sandbox.stackTraces ?? true;
  // The option is not public (the SDK fixes it at 5 s); Node's vm takes undefined as none.
  const isolateExecutionTimeoutMs = (
    sandbox.isolateTimeoutMs ? sandbox.isolateTimeoutMs : undefined
  )!;
  class ProjectWorker extends Worker {
    protected static override async createWorkflowCreator(
      ...[bundle, compiled, logger]: Parameters<typeof Worker.createWorkflowCreator>
    ): ReturnType<typeof Worker.createWorkflowCreator> {
      // debugMode runs workflows on the main thread exactly as the SDK does.
      if (compiled.debugMode)
        return super.createWorkflowCreator(
          bundle,
          { ...compiled, isolateExecutionTimeoutMs },
          logger,
        );
      if (threadCount === 0) {
        // Installed even without stack traces: it keeps the SDK's own hook, which records every
        // promise of the process, from being installed by the sandbox below.
        const inWorkflow = mainThreadStackHook();
        // The SDK's in-process sandbox, the one debugMode picks, with our timeout; the reusable
        // one (the SDK's default) with ordinary globals.
        const creator =
          compiled.reuseV8Context === false
            ? await super.createWorkflowCreator(
                bundle,
                { ...compiled, debugMode: true, isolateExecutionTimeoutMs },
                logger,
              )
            : await OrdinaryGlobalsWorkflowCreator.create(
                bundle,
                isolateExecutionTimeoutMs,
                new Set(compiled.activities.keys()),
                patchActivationCallbackOf(compiled),
              );
        const stopWatch = watchMainThread({ level: sandbox.logLevel });
        return {
          createWorkflow: async (workflowOptions) =>
            stackTraces
              ? hookedWorkflow(
                  await inWorkflow(() => creator.createWorkflow(workflowOptions)),
                  inWorkflow,
                )
              : withoutStackTraces(await creator.createWorkflow(workflowOptions)),
          destroy: async () => {
            await stopWatch();
            await creator.destroy();
          },
        };
      }
      const threads = Array.from({ length: threadCount }, () => {
        const thread = new NodeWorkerThread(
          threadSource(stackTraces ? 'deferStackFormatting' : 'noStackTraces'),
          { eval: true },
        );
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
