// Workflow sandboxes whose global object is V8's own, not one that Node intercepts.
//
// The SDK creates its workflow V8 context with `vm.createContext({}, ...)`. Node then mirrors
// that object into the context's global through property interceptors: every read of a global
// in workflow code (`Object`, `Array`, `Number`, the SDK's `__TEMPORAL_ACTIVATOR__`, zod's
// helpers) and the SDK's swap of one workflow's globals for another's on every call into the
// sandbox go through C++ callbacks. With `vm.constants.DONT_CONTEXTIFY` Node creates the context
// with an ordinary global object and returns that global as the context: the same globals,
// reads at the speed of any other object (docs/benchmarks.md has what it saves per saga).
//
// Plain CommonJS: Node loads it into new threads, where neither tsx nor Jest transforms a module.
'use strict';
const vm = require('node:vm');

const createContext = vm.createContext;
const DONT_CONTEXTIFY = vm.constants?.DONT_CONTEXTIFY;

/** The SDK's call: a fresh empty object, microtasks run after each call into the context. */
function isWorkflowSandbox(object, options) {
  return (
    object !== null &&
    typeof object === 'object' &&
    Object.getPrototypeOf(object) === Object.prototype &&
    Reflect.ownKeys(object).length === 0 &&
    options?.microtaskMode === 'afterEvaluate'
  );
}

function createWorkflowContext(object, options) {
  return isWorkflowSandbox(object, options)
    ? createContext(DONT_CONTEXTIFY, options)
    : createContext(object, options);
}

/**
 * From now on, the workflow contexts this thread creates have ordinary globals; returns the
 * function that puts `vm.createContext` back. A Node without DONT_CONTEXTIFY keeps Node's own.
 */
function ordinaryWorkflowGlobals() {
  if (DONT_CONTEXTIFY === undefined) return () => undefined;
  vm.createContext = createWorkflowContext;
  return () => {
    vm.createContext = createContext;
  };
}

module.exports = { ordinaryWorkflowGlobals };
