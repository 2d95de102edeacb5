// `npm run temporal-setup`: one-shot provisioning of the Temporal namespace, beside
// `npm run migrate` (temporal/namespace-setup.ts says what it does).
import { exitOnError } from '../bootstrap';
import { loadConfigOrExit } from '../config';
import { setupNamespace } from '../temporal/namespace-setup';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const scheduleId = await setupNamespace(config);
  process.stdout.write(
    `Namespace ${config.temporal.namespace}: search attributes registered; schedule ${scheduleId} ensured\n`,
  );
}

main().catch(exitOnError);
