// `npm start`: the whole stack on embedded defaults, in one process. Ctrl-C stops it cleanly;
// data stays in .data/ (or in the configured Postgres and Temporal) for the next start.
// First: tracing (when configured) must patch http and pg before anything loads them.
import '../observability/tracing-register';
import { startPieces, stopOnSignals } from '../bootstrap';
import { loadConfigOrExit } from '../config';
import { DEMO_CUSTOMERS, DEMO_PRODUCTS, seedDemoCatalog } from '../catalog/demo-catalog';
import { createLogger } from '../logger';
import { setupNamespace } from '../temporal/namespace-setup';
import { provisionInfrastructure } from './stack';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel, 'order-saga');
  const infra = await provisionInfrastructure(config, log);
  let running;
  try {
    await setupNamespace(config, infra.temporalAddress);
    running = await startPieces(config, log, {
      pieces: ['worker', 'projector', 'api'],
      // The only worker: it serves new sagas whatever version ran before.
      forceCurrentVersion: true,
      databaseUrl: infra.databaseUrl,
      readDatabaseUrl: infra.readDatabaseUrl,
      temporalAddress: infra.temporalAddress,
      migrate: true,
      beforePieces: seedDemoCatalog,
    });
  } catch (err) {
    await infra.stop();
    throw err;
  }
  stopOnSignals(running, log, () => infra.stop());

  const api = `http://localhost:${running.port}`;
  process.stdout.write(
    [
      '',
      'Order saga platform is running.',
      `  HTTP API      ${api}   (try: curl ${api}/orders/<id>)`,
      `  Temporal UI   ${infra.temporalUiUrl ?? '(external Temporal: use its UI)'}`,
      `  Temporal      ${infra.temporalAddress}`,
      `  Operations    ${api}/ops   (metrics: ${api}/metrics${config.temporal.metricsAddress ? `, SDK: http://${config.temporal.metricsAddress}/metrics` : ''})`,
      `  Demo products ${DEMO_PRODUCTS.map((p) => `${p.productId} (${p.stock} @ ${p.unitPriceCents}c)`).join(', ')}`,
      `  Demo customers ${DEMO_CUSTOMERS.map((c) => `${c.customerId} (${c.creditCents}c credit)`).join(', ')}`,
      `  Start an order: npm run orders -- create --customer alice --item SKU-MUG:2`,
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
}

main().catch((err) => {
  process.stderr.write(`npm start failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
