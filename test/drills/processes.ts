// The app's entry points as child processes, for the failure drills: started with
// `node --import tsx` (npm's own start-up would add a second per process), awaited until they
// log that they are up, and killed by pid.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const ROOT = path.join(__dirname, '..', '..');

export interface AppProcess {
  name: string;
  child: ChildProcess;
  /** Everything it wrote, for the failure message when a drill fails. */
  output(): string;
  /** SIGKILL (a crash) or SIGTERM (a clean stop); resolves once it has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const running = new Set<AppProcess>();

/**
 * Starts `entry` (a path from the repository root) and resolves once a line of its output
 * contains `readyText`; rejects if it exits first or stays silent for `timeoutMs`.
 */
export function startAppProcess(
  name: string,
  entry: string,
  env: Record<string, string | undefined>,
  readyText: string,
  timeoutMs = 60_000,
  args: string[] = [],
): Promise<AppProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, entry), ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let killedByUs = false;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      // A piece that dies on its own is a finding: show why, whatever the drill asserts next.
      if (!killedByUs) {
        process.stderr.write(
          `[drill] ${name} exited by itself (${code ?? signal}); its last output:\n` +
            `${output.slice(-4000)}\n`,
        );
      }
      resolve();
    }),
  );
  const proc: AppProcess = {
    name,
    child,
    output: () => output,
    async kill(signal = 'SIGKILL') {
      killedByUs = true;
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
      running.delete(proc);
    },
  };
  running.add(proc);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void proc.kill();
      reject(new Error(`${name} not ready after ${timeoutMs} ms:\n${output.slice(-2000)}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      // Keep the tail only: a long drill's logs are not needed whole.
      if (output.length > 200_000) output = output.slice(-100_000);
      if (output.includes(readyText)) {
        clearTimeout(timer);
        resolve(proc);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${output}`));
    });
  });
}

/** Kills every process this module started and has not seen exit (afterAll). */
export async function killAllAppProcesses(): Promise<void> {
  await Promise.all([...running].map((p) => p.kill()));
}

/** A saga worker on the test run's pre-built workflow bundle (test/worker-process.ts). */
export function startBundledWorker(
  name: string,
  env: {
    DATABASE_URL: string;
    TEMPORAL_ADDRESS: string;
    TEMPORAL_TASK_QUEUE: string;
    TEMPORAL_DEPLOYMENT_NAME?: string;
    TEMPORAL_BUILD_ID?: string;
  },
): Promise<AppProcess> {
  const bundle = process.env.TEST_WORKFLOW_BUNDLE;
  if (!bundle || !fs.existsSync(bundle))
    throw new Error('TEST_WORKFLOW_BUNDLE is not set: run the drills through jest');
  return startAppProcess(
    name,
    'test/worker-process.ts',
    { ...env, WORKFLOW_BUNDLE: bundle },
    'ready',
  );
}

/** GET/POST with a deadline: a drill must tell a hang from an answer. */
export async function request(
  baseUrl: string,
  method: 'GET' | 'POST',
  pathname: string,
  body?: unknown,
  timeoutMs = 15_000,
): Promise<{ status: number; contentType: string; body: unknown; ms: number }> {
  const started = Date.now();
  const res = await fetch(`${baseUrl}${pathname}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the assertion message
  }
  return {
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    body: parsed,
    ms: Date.now() - started,
  };
}
