// Where workflow code runs, against the real Temporal dev server: on the worker's main thread
// (WORKFLOW_THREADS=0, the default) and on a thread of its own (1). The sandbox with and without
// the per-call timeout (WORKFLOW_ISOLATE_TIMEOUT), a worker in its own process (killed with it,
// as a thread in a loop does not stop): with none (the default), a workflow that loops without
// awaiting is reported in the worker's log; with one, the SDK stops it, fails its workflow task
// and the worker runs other workflows. The stack trace queries (the UI's Stack Trace tab),
// answered from stacks formatted when asked, as the SDK's own threads answer them. And the
// sandbox's context with ordinary globals (workflow-globals.cjs), each workflow keeping its own.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { Client, Connection } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
} from '@temporalio/worker';
import { ReusableVMWorkflowCreator } from '@temporalio/worker/lib/workflow/reusable-vm';
import { globalHandlers } from '@temporalio/worker/lib/workflow/vm-shared';
import { eventually } from '../test/harness';
import { STUCK_MAIN_THREAD_AFTER_MS } from './main-thread-watch';
import { createWorker, STUCK_THREAD_AFTER_MS } from './workflow-threads';

jest.setTimeout(120_000);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'workflow-threads-'));
const bundlePath = path.join(dir, 'bundle.js');
let connection: Connection;
let client: Client;
/** For the workers this process runs itself (the others run in a process of their own). */
let native: NativeConnection;
beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('./workflow-threads.fixture'),
    logger: new DefaultLogger('WARN'),
  });
  fs.writeFileSync(bundlePath, code);
  connection = await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS });
  client = new Client({ connection });
  native = await NativeConnection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS });
});
afterAll(async () => {
  await native?.close();
  await connection?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface WorkerProcess {
  child: ChildProcess;
  taskQueue: string;
  /** The JSON lines it has printed (the SDK's warnings). */
  lines: { level: string; message: string; meta?: Record<string, unknown> }[];
}

async function startWorker(isolateTimeoutMs: number, threads: number): Promise<WorkerProcess> {
  const taskQueue = `threads-${randomUUID()}`;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, 'workflow-threads.fixture-worker.ts')],
    {
      cwd: path.join(__dirname, '..'),
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
        TEMPORAL_TASK_QUEUE: taskQueue,
        WORKFLOW_BUNDLE: bundlePath,
        WORKFLOW_ISOLATE_TIMEOUT_MS: String(isolateTimeoutMs),
        WORKFLOW_THREADS: String(threads),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const w: WorkerProcess = { child, taskQueue, lines: [] };
  let buffered = '';
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker process exited early (${code})`)));
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        if (line === 'ready') resolve();
        else if (line.startsWith('{')) w.lines.push(asSdkLine(JSON.parse(line)));
      }
    });
  });
  return w;
}

/** The main thread's watch writes pino's lines: read as the SDK's warnings. */
function asSdkLine(line: Record<string, unknown>): WorkerProcess['lines'][number] {
  if (typeof line.msg !== 'string') return line as WorkerProcess['lines'][number];
  const { level, msg, ...meta } = line;
  return { level: level === 40 ? 'WARN' : String(level), message: msg, meta };
}

function kill({ child }: WorkerProcess): Promise<void> {
  child.removeAllListeners('exit');
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    // A thread in a loop does not stop on SIGTERM's graceful shutdown.
    child.kill('SIGKILL');
  });
}

const failedTask = (e: { workflowTaskFailedEventAttributes?: unknown }) =>
  Boolean(e.workflowTaskFailedEventAttributes);

const STUCK = [
  'Workflow thread has neither paused nor answered',
  'Worker main thread has not turned its event loop',
];
const stuckWarnings = (w: WorkerProcess) =>
  w.lines.filter((l) => l.level === 'WARN' && STUCK.some((m) => l.message.startsWith(m)));

const ON_THREADS = [
  ['the main thread', 0],
  ['a workflow thread', 1],
] as const;

test.each(ON_THREADS)(
  'on %s with no timeout (the default), a workflow looping without awaiting is reported',
  async (_, threads) => {
    const w = await startWorker(0, threads);
    try {
      const started = Date.now();
      const looping = await client.workflow.start('loopWithoutAwaiting', {
        taskQueue: w.taskQueue,
        workflowId: `loop-${randomUUID()}`,
      });
      const [warning] = await eventually(
        async () => (stuckWarnings(w).length > 0 ? stuckWarnings(w) : undefined),
        STUCK_THREAD_AFTER_MS + 10_000,
        'the stuck-thread warning',
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(
        threads === 0 ? STUCK_MAIN_THREAD_AFTER_MS : STUCK_THREAD_AFTER_MS,
      );
      expect(warning!.message).toContain(
        threads === 0 ? 'Worker main thread has not turned' : 'Workflow thread has neither',
      );
      expect(warning!.message).toContain('WORKFLOW_ISOLATE_TIMEOUT');
      expect(warning!.meta?.threadId).toEqual(threads === 0 ? 0 : expect.any(Number));
      // The SDK's own timeout (5 s) would have failed the task by now: without one the loop runs
      // on, until the server times the task out (10 s).
      await new Promise((r) => setTimeout(r, Math.max(0, started + 7_000 - Date.now())));
      const { events } = await looping.fetchHistory();
      expect(events?.filter(failedTask)).toEqual([]);
    } finally {
      await kill(w);
    }
  },
);

test.each(ON_THREADS)(
  'on %s with WORKFLOW_ISOLATE_TIMEOUT, the SDK stops the loop and the worker runs other workflows',
  async (_, threads) => {
    const w = await startWorker(1_000, threads);
    try {
      const looping = await client.workflow.start('loopWithoutAwaiting', {
        taskQueue: w.taskQueue,
        workflowId: `loop-${randomUUID()}`,
      });
      await eventually(
        async () => {
          const { events } = await looping.fetchHistory();
          return events?.some(failedTask) || undefined;
        },
        20_000,
        'the looping workflow task to fail',
      );
      const result = await client.workflow.execute('returnAtOnce', {
        taskQueue: w.taskQueue,
        workflowId: `quick-${randomUUID()}`,
      });
      expect(result).toBe('done');
      await looping.terminate('test over');
      expect(stuckWarnings(w)).toEqual([]);
    } finally {
      await kill(w);
    }
  },
);

test.each(ON_THREADS)(
  "on %s the stack trace queries answer as with the SDK's own workflow threads",
  async (_, threads) => {
    const options = (taskQueue: string) => ({
      connection: native,
      taskQueue,
      workflowBundle: { codePath: bundlePath },
    });
    const ours = await createWorker(options(`stacks-ours-${randomUUID()}`), { threads });
    const sdks = await Worker.create(options(`stacks-sdk-${randomUUID()}`));
    if (threads === 0) {
      // On the main thread the deferred hook replaced the SDK's (its threads have their own).
      expect(Object.hasOwn(globalHandlers, 'setPromiseHook')).toBe(true);
      expect(globalHandlers.promiseHookInstalled).toBe(true);
    }
    const running = [ours.run(), sdks.run()];
    try {
      const [mine, theirs] = await Promise.all(
        [ours, sdks].map((w) =>
          client.workflow.start('waitInTwoPlaces', {
            taskQueue: w.options.taskQueue,
            workflowId: `stacks-${randomUUID()}`,
          }),
        ),
      );
      const stack = await mine!.query<string>('__stack_trace');
      expect(stack).toBe(await theirs!.query<string>('__stack_trace'));
      // Each place the workflow waits, source-mapped, without the SDK's frames.
      expect(stack).toMatch(/^ +at all \(.*workflow-threads\.fixture\.ts:\d+:\d+\)$/m);
      expect(stack).toMatch(/^ +at waitForBoth \(.*workflow-threads\.fixture\.ts:\d+:\d+\)$/m);
      expect(stack).toMatch(/^ +at race \(.*workflow-threads\.fixture\.ts:\d+:\d+\)$/m);
      expect(stack).not.toMatch(/internals|Promise\.then|Function\.all/);

      type Enhanced = { stacks: { locations: { file_path?: string }[] }[] };
      const enhanced = await mine!.query<Enhanced>('__enhanced_stack_trace');
      expect(enhanced.stacks).toEqual(
        (await theirs!.query<Enhanced>('__enhanced_stack_trace')).stacks,
      );
      expect(enhanced.stacks.length).toBeGreaterThan(1);
      for (const { locations } of enhanced.stacks)
        for (const { file_path } of locations)
          expect(file_path).toMatch(/workflow-threads\.fixture\.ts$/);
      await Promise.all([mine!.terminate(), theirs!.terminate()]);
    } finally {
      ours.shutdown();
      sdks.shutdown();
      await Promise.all(running);
    }
  },
);

test.each(ON_THREADS)(
  'on %s a worker without stack traces answers the query that they are not enabled, beside one with them',
  async (_, threads) => {
    const worker = (stackTraces: boolean) =>
      createWorker(
        {
          connection: native,
          taskQueue: `stacks-${stackTraces ? 'on' : 'off'}-${randomUUID()}`,
          workflowBundle: { codePath: bundlePath },
        },
        { threads, stackTraces },
      );
    // Both in this process: on the main thread they share the process's promise hook.
    const off = await worker(false);
    const on = await worker(true);
    const running = [off.run(), on.run()];
    try {
      const [withOut, withStacks] = await Promise.all(
        [off, on].map((w) =>
          client.workflow.start('waitInTwoPlaces', {
            taskQueue: w.options.taskQueue,
            workflowId: `stacks-${randomUUID()}`,
          }),
        ),
      );
      await expect(withOut!.query<string>('__stack_trace')).rejects.toThrow(
        /stack traces are not enabled on this worker/,
      );
      await expect(withOut!.query('__enhanced_stack_trace')).rejects.toThrow(
        /stack traces are not enabled on this worker/,
      );
      // Only the query is refused: the workflow runs on, waiting where it was.
      expect((await withOut!.describe()).status.name).toBe('RUNNING');
      expect(await withStacks!.query<string>('__stack_trace')).toMatch(
        /^ +at waitForBoth \(.*workflow-threads\.fixture\.ts:\d+:\d+\)$/m,
      );
      await Promise.all([withOut!.terminate(), withStacks!.terminate()]);
    } finally {
      off.shutdown();
      on.shutdown();
      await Promise.all(running);
    }
  },
);

test.each(ON_THREADS)(
  'on %s workflows keep their own globals in a sandbox with ordinary globals',
  async (_, threads) => {
    const worker = await createWorker(
      {
        connection: native,
        taskQueue: `globals-${randomUUID()}`,
        workflowBundle: { codePath: bundlePath },
      },
      { threads },
    );
    const running = worker.run();
    try {
      const ids = ['a', 'b', 'c'].map((n) => `globals-${n}-${randomUUID()}`);
      const handles = await Promise.all(
        ids.map((id) =>
          client.workflow.start('keepsItsGlobal', {
            taskQueue: worker.options.taskQueue,
            workflowId: id,
            args: [id],
          }),
        ),
      );
      if (threads === 0) {
        // Each has run its first activation; on the main thread their sandbox is at hand.
        const sandboxes = await eventually(async () => {
          const found = handles.map(
            (h) => ReusableVMWorkflowCreator.workflowByRunId.get(h.firstExecutionRunId) as unknown,
          );
          return found.every(Boolean) ? (found as { context: vm.Context }[]) : undefined;
        }, 20_000);
        for (const { context } of sandboxes)
          expect(vm.runInContext('globalThis', context)).toBe(context);
      }
      await Promise.all(handles.map((h) => h.signal('release')));
      const results = await Promise.all(handles.map((h) => h.result()));
      expect(results).toEqual(ids.map((id) => [null, id]));
    } finally {
      worker.shutdown();
      await running;
    }
  },
);

test.each(ON_THREADS)(
  'on %s a workflow bundle that fails to load fails the worker at start, with its error',
  async (_, threads) => {
    const broken = path.join(dir, 'broken-bundle.js');
    const sourceMap = Buffer.from(JSON.stringify({ version: 3, sources: [], mappings: '' }));
    fs.writeFileSync(
      broken,
      // Passes the SDK's checks (an inline source map, the module cache), then throws.
      "globalThis.__webpack_module_cache__ = {};\nthrow new Error('this bundle is broken');\n" +
        `//# sourceMappingURL=data:application/json;base64,${sourceMap.toString('base64')}\n`,
    );
    await expect(
      createWorker(
        {
          connection: native,
          taskQueue: `broken-${randomUUID()}`,
          workflowBundle: { codePath: broken },
        },
        { threads },
      ),
    ).rejects.toThrow(/this bundle is broken/);
  },
);
