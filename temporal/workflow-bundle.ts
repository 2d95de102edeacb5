// How the saga's workflow code is bundled, the same for the build, the worker and the tests.
// A bundle fixes two things at build time that the worker's options cannot add afterwards: the
// failure converter (encrypted failures) and the workflow interceptors (tracing). The build
// makes one bundle per combination, so a production worker always loads a bundle that CI has
// built and replayed, whatever its configuration.
import path from 'node:path';
import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { tracingBundlerPlugins } from '../observability/tracing';

export const ORDER_WORKFLOWS_PATH = require.resolve('../workflows');

/**
 * Modules the sandbox evaluates once per worker thread and shares between workflows, instead of
 * once per workflow run: the order schema's checks (zod and the schemas built from it cost
 * about 12 ms of CPU per saga when each run evaluated them). Each must hold no per-workflow
 * state and export functions only (workflows/order-input-checks.ts says why).
 */
export const WORKFLOW_PRELOAD_MODULES = [require.resolve('../workflows/order-input-checks')];

/** What a bundle is built with. */
export interface WorkflowBundleVariant {
  /** The data converter's failure converter (temporal/failure-converter.ts), by path. */
  failureConverterPath?: string;
  /** Temporal's OpenTelemetry workflow interceptors (observability/tracing.ts). */
  tracing?: boolean;
}

/** Where `npm run build` puts each variant's bundle: at the top of dist/. */
export function prebuiltBundlePath(variant: WorkflowBundleVariant): string {
  const suffix = [
    variant.tracing ? '.traced' : '',
    variant.failureConverterPath ? '.encrypted-failures' : '',
  ].join('');
  return path.join(__dirname, '..', `workflow-bundle${suffix}.js`);
}

const quiet = () => undefined;
const quietLogger = {
  log: quiet,
  trace: quiet,
  debug: quiet,
  info: quiet,
  warn: quiet,
  error: console.error,
};

/** Bundles workflows/ as `variant` says (default: clear failures, no tracing). */
export function bundleOrderWorkflows(variant: WorkflowBundleVariant = {}): Promise<WorkflowBundle> {
  return bundleWorkflowCode({
    workflowsPath: ORDER_WORKFLOWS_PATH,
    preloadModules: WORKFLOW_PRELOAD_MODULES,
    failureConverterPath: variant.failureConverterPath,
    plugins: variant.tracing ? tracingBundlerPlugins() : [],
    logger: quietLogger,
  });
}
