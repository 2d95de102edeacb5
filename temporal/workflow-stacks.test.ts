// The promise stacks of workflow code (workflow-stacks.cjs) with the SDK's own handlers, in
// a thread of its own (workflow-stacks.fixture-thread.cjs): what the stack trace query reads.
import path from 'node:path';
import { Worker } from 'node:worker_threads';

interface Frame {
  function_name?: string;
  file_path?: string;
  line?: number;
}

function inThread<T>(scenario: string): Promise<T> {
  const thread = new Worker(path.join(__dirname, 'workflow-stacks.fixture-thread.cjs'), {
    workerData: scenario,
  });
  return new Promise<T>((resolve, reject) => {
    thread.once('message', (result: T) => {
      resolve(result);
      void thread.terminate();
    });
    thread.once('error', reject);
  });
}

test('a promise is recorded where the workflow made it, and formatted only when read', async () => {
  const r = await inThread<{
    formatsBeforeRead: number;
    formatted: string;
    formatsAfterRead: number;
    structured: Frame[];
    chainedOnWaiting: boolean;
  }>('recorded');
  expect(r.formatsBeforeRead).toBe(0);
  expect(r.formatted).toMatch(
    /^ {4}at new Promise \(<anonymous>\)\n {4}at waitHere \(workflow\.js:2:\d+\)\n {4}at workflow\.js:3:\d+$/,
  );
  expect(r.formatsAfterRead).toBe(1);
  // The SDK's frames (from `runInContext` on) are cut, as the SDK cuts them.
  expect(r.structured.map((f) => [f.function_name, f.file_path, f.line])).toEqual([
    ['new Promise', undefined, undefined],
    ['waitHere', 'workflow.js', 2],
    [undefined, 'workflow.js', 3],
  ]);
  expect(r.chainedOnWaiting).toBe(true);
});

test('the promises Promise.all makes for its inputs are left out: the aggregate stands for them', async () => {
  const r = await inThread<{ aggregate: string; all: string[] }>('aggregate');
  expect(r.aggregate).toMatch(
    /^ {4}at (Function|Promise)\.all \(<anonymous>\)\n {4}at waitForBoth \(workflow\.js/,
  );
  // The two inputs, the aggregate, and the two promises it chained on its inputs (blank).
  expect(r.all).toHaveLength(5);
  expect(r.all.filter((t) => t === '')).toHaveLength(2);
});

test('a settled promise is forgotten', async () => {
  const r = await inThread<{ recordedBefore: boolean; recordedAfter: boolean }>('settled');
  expect(r).toEqual({ recordedBefore: true, recordedAfter: false });
});

test('on a main thread the hook runs only inside calls into workflow code', async () => {
  const result = await inThread('onlyInWorkflowCalls');
  expect(result).toEqual({
    // The SDK passes this to its sandbox: the stack trace query stays on.
    installed: true,
    outside: false,
    inside: expect.stringMatching(/^\s+at waitHere \(workflow\.js:\d+:\d+\)$/m),
    settledForgotten: true,
    after: false,
  });
});
