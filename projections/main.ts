// `npm run projector`: the projection runner on its own. Start several: one is active per
// projection (advisory lock), the others stand by and take over.
// First: tracing (when configured) must patch http and pg before anything loads them.
import '../observability/tracing-register';
import { exitOnError, startPieces, stopOnSignals } from '../bootstrap';
import { loadConfigOrExit } from '../config';
import { createLogger } from '../logger';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel, 'projector');
  stopOnSignals(await startPieces(config, log, { pieces: ['projector'] }), log);
}

main().catch(exitOnError);
