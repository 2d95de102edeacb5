// `npm run worker`: the saga's Temporal worker on its own (more of them scale the saga out).
// bootstrap.ts builds it; SIGINT/SIGTERM let in-flight tasks finish, then close everything.
// First: tracing (when configured) must patch http and pg before anything loads them.
import './observability/tracing-register';
import { exitOnError, startPieces, stopOnSignals } from './bootstrap';
import { loadConfigOrExit } from './config';
import { createLogger } from './logger';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel, 'worker');
  stopOnSignals(await startPieces(config, log, { pieces: ['worker'] }), log);
}

main().catch(exitOnError);
