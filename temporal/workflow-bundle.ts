// How the saga's workflow code is bundled, the same for the build, the worker and the tests.
import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';

export const ORDER_WORKFLOWS_PATH = require.resolve('../workflows');

/**
 * Modules the sandbox evaluates once per worker thread and shares between workflows, instead of
 * once per workflow run: the order schema's checks (zod and the schemas built from it cost
 * about 12 ms of CPU per saga when each run evaluated them). Each must hold no per-workflow
 * state and export functions only (workflows/order-input-checks.ts says why).
 */
export const WORKFLOW_PRELOAD_MODULES = [require.resolve('../workflows/order-input-checks')];

const quiet = () => undefined;
const quietLogger = {
  log: quiet,
  trace: quiet,
  debug: quiet,
  info: quiet,
  warn: quiet,
  error: console.error,
};

/** Bundles workflows/ (with a failure converter, for encrypted failures). */
export function bundleOrderWorkflows(
  options: { failureConverterPath?: string } = {},
): Promise<WorkflowBundle> {
  return bundleWorkflowCode({
    workflowsPath: ORDER_WORKFLOWS_PATH,
    preloadModules: WORKFLOW_PRELOAD_MODULES,
    failureConverterPath: options.failureConverterPath,
    logger: quietLogger,
  });
}
