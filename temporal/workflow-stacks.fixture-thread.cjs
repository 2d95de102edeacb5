// A thread for workflow-stacks.test.ts: the SDK's handlers with workflow-stacks.cjs, as in a
// workflow thread, and a sandbox standing in for a workflow's. A thread of its own because
// promise hooks belong to the whole isolate: a Jest process keeps those of the SDK's in-process
// workers (the replay tests') once they are gone. Runs the scenario named in workerData and
// posts what the stack trace query would read.
'use strict';
const vm = require('node:vm');
const { parentPort, workerData } = require('node:worker_threads');
const { GlobalHandlers } = require('@temporalio/worker/lib/workflow/vm-shared');
const {
  deferStackFormatting,
  deferStackFormattingInWorkflowCalls,
} = require('./workflow-stacks.cjs');

// As on a main thread running workflows (the hook only inside calls into them), or as in a
// workflow thread (always).
const handlers = new GlobalHandlers();
const inWorkflow =
  workerData === 'onlyInWorkflowCalls'
    ? deferStackFormattingInWorkflowCalls(handlers)
    : (deferStackFormatting(handlers), (call) => call());
handlers.install();

const store = { promiseToStack: new Map(), childToParent: new Map() };
const context = vm.createContext({ __TEMPORAL_ACTIVATOR__: { promiseStackStore: store } });
const run = (code) => vm.runInContext(code, context, { filename: 'workflow.js' });

// Counts the SDK formatter's runs: each one is a stack formatted.
const sdkPrepare = Error.prepareStackTrace;
let formats = 0;
Error.prepareStackTrace = (err, frames) => {
  formats++;
  return sdkPrepare(err, frames);
};

const scenarios = {
  async recorded() {
    const [waiting, chained] = run(`
      function waitHere() { return new Promise(() => {}); }
      const waiting = waitHere();
      [waiting, waiting.then(() => {})];
    `);
    const formatsBeforeRead = formats;
    const { formatted, structured } = store.promiseToStack.get(waiting);
    return {
      formatsBeforeRead,
      formatted,
      formatsAfterRead: formats,
      structured,
      chainedOnWaiting: store.childToParent.get(chained)?.has(waiting) === true,
    };
  },

  async aggregate() {
    const all = run(`
      function waitForBoth() { return Promise.all([new Promise(() => {}), new Promise(() => {})]); }
      waitForBoth();
    `);
    return {
      aggregate: store.promiseToStack.get(all).formatted,
      all: [...store.promiseToStack.values()].map((s) => s.formatted),
    };
  },

  async settled() {
    const { promise, resolve } = run(`
      let resolve;
      const promise = new Promise((r) => { resolve = r; });
      ({ promise, resolve });
    `);
    const recordedBefore = store.promiseToStack.has(promise);
    resolve();
    await promise;
    return {
      recordedBefore,
      recordedAfter: store.promiseToStack.has(promise) || store.childToParent.has(promise),
    };
  },
};

scenarios.onlyInWorkflowCalls = async () => {
  const waitHere = 'function waitHere() { return new Promise(() => {}); } waitHere();';
  const outside = run(waitHere);
  const inside = inWorkflow(() => run(waitHere));
  const { promise, resolve } = inWorkflow(() =>
    run(
      'let resolve; const promise = new Promise((r) => { resolve = r; }); ({ promise, resolve });',
    ),
  );
  inWorkflow(() => inWorkflow(() => resolve()));
  const after = run(waitHere);
  return {
    installed: handlers.promiseHookInstalled,
    outside: store.promiseToStack.has(outside),
    inside: store.promiseToStack.get(inside)?.formatted,
    settledForgotten: !store.promiseToStack.has(promise),
    after: store.promiseToStack.has(after),
  };
};

scenarios[workerData]().then((result) => parentPort.postMessage(result));
