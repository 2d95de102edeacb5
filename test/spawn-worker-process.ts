// Starts test/worker-process.ts (a saga worker in a process of its own) against the run's
// Temporal dev server, and resolves once it polls.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

export interface WorkerProcessOptions {
  databaseUrl: string;
  taskQueue: string;
  /** Default: the run's shared bundle. */
  workflowBundle?: string;
  /** Also answer GET /ping on this port from the worker's main thread. */
  httpPort?: number;
}

export function spawnWorkerProcess(options: WorkerProcessOptions): Promise<ChildProcess> {
  const root = path.join(__dirname, '..');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, 'worker-process.ts')],
    {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: options.databaseUrl,
        TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
        TEMPORAL_TASK_QUEUE: options.taskQueue,
        WORKFLOW_BUNDLE: options.workflowBundle ?? process.env.TEST_WORKFLOW_BUNDLE,
        ...(options.httpPort === undefined ? {} : { HTTP_PORT: String(options.httpPort) }),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker process exited early (${code})`)));
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) {
        child.removeAllListeners('exit');
        resolve(child);
      }
    });
  });
}
