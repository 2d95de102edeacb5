// Workflow contexts with ordinary globals (workflow-globals.cjs): what the SDK's call to
// vm.createContext gets while they are on, and what every other call still gets.
import vm from 'node:vm';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ordinaryWorkflowGlobals } = require('./workflow-globals.cjs') as {
  ordinaryWorkflowGlobals: () => () => void;
};

/** Node returns the context's own global object only for a context it did not contextify. */
const hasOrdinaryGlobals = (context: vm.Context) =>
  vm.runInContext('globalThis', context) === context;

/** The SDK's call (@temporalio/worker's reusable sandbox). */
const sdkContext = () => vm.createContext({}, { microtaskMode: 'afterEvaluate' });

test("the SDK's workflow context gets ordinary globals, and its microtasks still run in each call", () => {
  const restore = ordinaryWorkflowGlobals();
  let context: vm.Context;
  try {
    context = sdkContext();
  } finally {
    restore();
  }
  expect(hasOrdinaryGlobals(context)).toBe(true);
  // Globals defined from outside are the context's own (the SDK injects its globals this way).
  Object.defineProperty(context, 'injected', { value: 42, enumerable: false });
  expect(vm.runInContext('injected + 1', context)).toBe(43);
  // microtaskMode: 'afterEvaluate' holds: a call returns once its microtasks have run.
  vm.runInContext('Promise.resolve().then(() => { globalThis.settled = true; })', context);
  expect(context.settled).toBe(true);
});

test('other contexts, and any context once restored, are created as Node creates them', () => {
  const restore = ordinaryWorkflowGlobals();
  let other: vm.Context;
  try {
    other = vm.createContext({ given: 1 });
  } finally {
    restore();
  }
  expect(hasOrdinaryGlobals(other)).toBe(false);
  expect(vm.runInContext('given', other)).toBe(1);
  expect(hasOrdinaryGlobals(sdkContext())).toBe(false);
});
