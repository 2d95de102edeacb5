// Build step: bundles the workflow code once, next to the compiled worker (dist/), so a
// production worker loads the bundle instead of running webpack at every start.
import fs from 'node:fs';
import path from 'node:path';
import { PREBUILT_WORKFLOW_BUNDLE } from '../temporal/order-worker';
import { bundleOrderWorkflows } from '../temporal/workflow-bundle';

async function main(): Promise<void> {
  const { code } = await bundleOrderWorkflows();
  fs.writeFileSync(PREBUILT_WORKFLOW_BUNDLE, code);
  process.stdout.write(
    `workflow bundle: ${path.relative(process.cwd(), PREBUILT_WORKFLOW_BUNDLE)}\n`,
  );
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
