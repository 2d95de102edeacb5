// The workflow sandbox with and without the per-call timeout (WORKFLOW_ISOLATE_TIMEOUT), a
// worker in its own process against the real Temporal dev server: with none (the default), a
// workflow that loops without awaiting is reported in the worker's log; with one, the SDK stops
// it, fails its workflow task and the worker runs other workflows.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { eventually } from '../test/harness';
import { STUCK_THREAD_AFTER_MS } from './workflow-threads';

jest.setTimeout(120_000);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'workflow-threads-'));
const bundlePath = path.join(dir, 'bundle.js');
let connection: Connection;
let client: Client;
beforeAll(async () => {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('./workflow-threads.fixture'),
    logger: new DefaultLogger('WARN'),
  });
  fs.writeFileSync(bundlePath, code);
  connection = await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS });
  client = new Client({ connection });
});
afterAll(async () => {
  await connection?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface WorkerProcess {
  child: ChildProcess;
  taskQueue: string;
  /** The JSON lines it has printed (the SDK's warnings). */
  lines: { level: string; message: string; meta?: Record<string, unknown> }[];
}

async function startWorker(isolateTimeoutMs: number): Promise<WorkerProcess> {
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
        else if (line.startsWith('{')) w.lines.push(JSON.parse(line));
      }
    });
  });
  return w;
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

const stuckWarnings = (w: WorkerProcess) =>
  w.lines.filter(
    (l) => l.level === 'WARN' && l.message.startsWith('Workflow thread has not paused'),
  );

test('with no timeout (the default), a workflow looping without awaiting is reported', async () => {
  const w = await startWorker(0);
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
    expect(Date.now() - started).toBeGreaterThanOrEqual(STUCK_THREAD_AFTER_MS);
    expect(warning!.message).toContain('WORKFLOW_ISOLATE_TIMEOUT');
    expect(warning!.meta?.threadId).toEqual(expect.any(Number));
    // The SDK's own timeout (5 s) would have failed the task by now: without one the loop runs
    // on, until the server times the task out (10 s).
    await new Promise((r) => setTimeout(r, Math.max(0, started + 7_000 - Date.now())));
    const { events } = await looping.fetchHistory();
    expect(events?.filter(failedTask)).toEqual([]);
  } finally {
    await kill(w);
  }
});

test('with WORKFLOW_ISOLATE_TIMEOUT, the SDK stops the loop and the worker runs other workflows', async () => {
  const w = await startWorker(1_000);
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
});
