// Build step: bundles the workflow code once, next to the compiled worker (dist/), so a
// production worker loads the bundle instead of running webpack at every start.
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { PREBUILT_WORKFLOW_BUNDLE } from '../temporal/order-worker';

async function main(): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} },
  });
  fs.writeFileSync(PREBUILT_WORKFLOW_BUNDLE, code);
  process.stdout.write(
    `workflow bundle: ${path.relative(process.cwd(), PREBUILT_WORKFLOW_BUNDLE)}\n`,
  );
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
