// `npm run api`: the HTTP API on its own (scale it out behind a load balancer). Reads go to
// READ_DATABASE_URL (a replica), catalog writes to DATABASE_URL, order writes to Temporal.
// First: tracing (when configured) must patch http and pg before anything loads them.
import '../observability/tracing-register';
import { exitOnError, startPieces, stopOnSignals } from '../bootstrap';
import { loadConfigOrExit } from '../config';
import { createLogger } from '../logger';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel, 'api');
  stopOnSignals(await startPieces(config, log, { pieces: ['api'] }), log);
}

main().catch(exitOnError);
