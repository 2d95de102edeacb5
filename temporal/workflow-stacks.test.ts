// The promise stacks of a workflow thread (workflow-stacks.cjs), with the SDK's own handlers
// and a sandbox standing in for a workflow's: what the stack trace query reads from the store.
import vm from 'node:vm';
import { GlobalHandlers } from '@temporalio/worker/lib/workflow/vm-shared';
import { deferStackFormatting } from './workflow-stacks.cjs';

interface Stack {
  formatted: string;
  structured: { function_name?: string; file_path?: string; line?: number }[];
}
interface Store {
  promiseToStack: Map<Promise<unknown>, Stack>;
  childToParent: Map<Promise<unknown>, Set<Promise<unknown>>>;
}

const handlers = new GlobalHandlers();
deferStackFormatting(handlers);
beforeAll(() => handlers.install());
afterAll(() => handlers.uninstall());

/** A sandbox whose promises are recorded in `store`, as a workflow's are in its activator's. */
function workflowSandbox() {
  const store: Store = { promiseToStack: new Map(), childToParent: new Map() };
  const context = vm.createContext({ __TEMPORAL_ACTIVATOR__: { promiseStackStore: store } });
  const run = <T>(code: string): T => vm.runInContext(code, context, { filename: 'workflow.js' });
  return { store, run };
}

test('a promise is recorded where the workflow made it, and formatted only when read', () => {
  const { store, run } = workflowSandbox();
  // eslint-disable-next-line @typescript-eslint/unbound-method -- V8 calls it with no receiver
  const sdkPrepare = Error.prepareStackTrace;
  let formats = 0;
  Error.prepareStackTrace = (err, frames) => {
    formats++;
    return sdkPrepare(err, frames);
  };
  try {
    const [waiting, chained] = run<Promise<void>[]>(`
      function waitHere() { return new Promise(() => {}); }
      const waiting = waitHere();
      [waiting, waiting.then(() => {})];
    `);
    expect(formats).toBe(0);
    const stack = store.promiseToStack.get(waiting!)!;
    expect(stack.formatted).toMatch(
      /^ {4}at new Promise \(<anonymous>\)\n {4}at waitHere \(workflow\.js:2:\d+\)\n {4}at workflow\.js:3:\d+$/,
    );
    expect(formats).toBe(1);
    expect(stack.structured.map((f) => [f.function_name, f.file_path, f.line])).toEqual([
      ['new Promise', undefined, undefined],
      ['waitHere', 'workflow.js', 2],
      [undefined, 'workflow.js', 3],
    ]);
    expect(store.childToParent.get(chained!)).toEqual(new Set([waiting]));
  } finally {
    Error.prepareStackTrace = sdkPrepare;
  }
});

test('the promises Promise.all makes for its inputs are left out: the aggregate stands for them', () => {
  const { store, run } = workflowSandbox();
  const all = run<Promise<void>>(
    'function waitForBoth() { return Promise.all([new Promise(() => {}), new Promise(() => {})]); }' +
      'waitForBoth()',
  );
  expect(store.promiseToStack.get(all)!.formatted).toMatch(
    /^ {4}at (Function|Promise)\.all \(<anonymous>\)\n {4}at waitForBoth \(workflow\.js/,
  );
  const texts = [...store.promiseToStack.values()].map((s) => s.formatted);
  // The two inputs, the aggregate, and the two promises it chained on its inputs (blank).
  expect(texts.filter((t) => t === '')).toHaveLength(2);
  expect(texts).toHaveLength(5);
});

test('a settled promise is forgotten', async () => {
  const { store, run } = workflowSandbox();
  const { promise, resolve } = run<{ promise: Promise<void>; resolve: () => void }>(`
    let resolve;
    const promise = new Promise((r) => { resolve = r; });
    ({ promise, resolve });
  `);
  expect(store.promiseToStack.has(promise)).toBe(true);
  resolve();
  await promise;
  expect(store.promiseToStack.has(promise)).toBe(false);
  expect(store.childToParent.has(promise)).toBe(false);
});
