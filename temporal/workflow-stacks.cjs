// The stacks behind the `__stack_trace` query (the Temporal UI's Stack Trace tab), kept at a
// fraction of the SDK's cost. Loaded first in each workflow thread (temporal/workflow-threads.ts).
//
// The SDK records where each workflow promise was created, from a promise hook: for every
// promise it compiles two functions, captures a stack, formats it through the workflow bundle's
// source map and tests it against regexes, though the text is read only when someone queries
// the stack. The same hook here captures the stack and formats it when it is read, with the
// SDK's own formatter, so the query answers what it answered before. A worker that runs
// workflows on its main thread (WORKFLOW_THREADS=0) runs the hook there only during calls into
// workflow code.
//
// Plain CommonJS: Node loads it into a new thread, where neither tsx nor Jest transforms a module.
'use strict';
const v8 = require('node:v8');
const { cutoffStackTrace } = require('@temporalio/common');

/** Frames from here on are the SDK's, not the workflow's (as the SDK cuts its own stacks). */
function isSdkFrame({ function_name: name, file_path: file }) {
  if (!name || !file) return false;
  return (
    (/^Activator\.\S+NextHandler$/.test(name) &&
      /[\\/]workflow[\\/](?:src|lib)[\\/]internals\.[jt]s$/.test(file)) ||
    (/Script\.runInContext/.test(name) && /^node:vm|vm\.js$/.test(file))
  );
}

const HOOK_FRAME = /^\s+at initAll \(node:internal\/promise_hooks/;
const AGGREGATE_FRAME = /^\s+at (?:Function|Promise)\.(?:race|all|allSettled|any) \(<anonymous>\)$/;

/**
 * Where one promise was created: the captured stack, formatted on first read into what the
 * query returns (`formatted` text, `structured` frames).
 */
class PromiseStack {
  constructor(handlers, captured) {
    this.handlers = handlers;
    /** Until the first read; then `text` and `frames`. */
    this.captured = captured;
  }

  get formatted() {
    this.format();
    return this.text;
  }

  get structured() {
    this.format();
    return this.frames;
  }

  format() {
    if (this.captured === undefined) return;
    const { handlers } = this;
    // Reading the stack runs the SDK's Error.prepareStackTrace: it maps each frame through the
    // source map and leaves the frames, structured, in handlers.currentStackTrace.
    handlers.currentStackTrace = undefined;
    const lines = String(this.captured.stack).split('\n').slice(1);
    const frames = handlers.currentStackTrace ?? [];
    handlers.currentStackTrace = undefined;
    this.captured = undefined;
    if (HOOK_FRAME.test(lines[0] ?? '')) {
      lines.shift();
      frames.shift();
    }
    // A promise Promise.all (race, ...) makes for each of its inputs: its aggregate stands for
    // it, and an empty text keeps it out of the answer (the SDK does not record it at all).
    if (
      /^\s+at Promise\.then \(<anonymous>\)$/.test(lines[0] ?? '') &&
      AGGREGATE_FRAME.test(lines[1] ?? '')
    ) {
      this.text = '';
      this.frames = [];
      return;
    }
    const sdkFrom = frames.findIndex(isSdkFrame);
    if (sdkFrom > -1) frames.splice(sdkFrom);
    this.text = cutoffStackTrace(lines.join('\n'));
    this.frames = frames;
  }
}

/**
 * The promise hook that defers the formatting, for the SDK's `handlers` (its GlobalHandlers,
 * replaced before it installs them). Each store is the running workflow's, as in the
 * SDK: `promiseToStack` maps a promise to where it was created, `childToParent` links it to the
 * promise it chains on, and both forget a promise once it settles.
 */
function promiseHooks(handlers) {
  // `__TEMPORAL_ACTIVATOR__` of the promise's realm (its sandbox), read through a function
  // compiled once per realm rather than once per promise.
  const readers = new WeakMap();
  const storeOf = (promise) => {
    // This module's own realm is never a sandbox.
    if (promise.constructor === Promise) return undefined;
    const realmFunction = promise.constructor.constructor;
    let read = readers.get(realmFunction);
    if (read === undefined) {
      read = realmFunction('return globalThis.__TEMPORAL_ACTIVATOR__');
      readers.set(realmFunction, read);
    }
    return read()?.promiseStackStore;
  };
  const init = (promise, parent) => {
    if (promise === parent) return;
    const store = storeOf(promise);
    if (store === undefined) return;
    const captured = {};
    Error.captureStackTrace(captured, init);
    store.promiseToStack.set(promise, new PromiseStack(handlers, captured));
    let parents = store.childToParent.get(promise);
    if (parents === undefined) store.childToParent.set(promise, (parents = new Set()));
    if (parent) parents.add(parent);
  };
  const settled = (promise) => {
    const store = storeOf(promise);
    if (store === undefined) return;
    store.childToParent.delete(promise);
    store.promiseToStack.delete(promise);
  };
  return { init, settled };
}

/** In a workflow thread: the hook runs for every promise of the thread, as the SDK's does. */
function deferStackFormatting(handlers) {
  handlers.setPromiseHook = function setPromiseHook() {
    this.stopPromiseHook = v8.promiseHooks.createHook(promiseHooks(handlers));
    this.promiseHookInstalled = true;
  };
}

/**
 * On the main thread, where the activities, pg and the API make far more promises than the
 * workflows: the hook runs only while workflow code does. Every workflow promise is made and
 * settled inside a call into the sandbox (its microtasks run before the call returns), and
 * `inWorkflow` wraps the synchronous part of each such call; nested calls share the hook.
 */
function deferStackFormattingInWorkflowCalls(handlers) {
  const hooks = promiseHooks(handlers);
  handlers.setPromiseHook = function setPromiseHook() {
    this.promiseHookInstalled = true;
  };
  let depth = 0;
  let stop;
  return function inWorkflow(call) {
    if (depth++ === 0) stop = v8.promiseHooks.createHook(hooks);
    try {
      return call();
    } finally {
      if (--depth === 0) stop();
    }
  };
}

/**
 * In a workflow thread of a worker without stack traces (WORKFLOW_STACK_TRACES=false): no hook at
 * all, so the SDK's workflows there say that stack traces are not enabled when queried.
 */
function noStackTraces(handlers) {
  handlers.setPromiseHook = function setPromiseHook() {};
}

module.exports = { deferStackFormatting, deferStackFormattingInWorkflowCalls, noStackTraces };
