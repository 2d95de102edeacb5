// `npm start`: the whole stack on embedded defaults, in one process. Ctrl-C stops it cleanly;
// data stays in .data/ (or in the configured Postgres and Temporal) for the next start.
// First: tracing (when configured) must patch http and pg before anything loads them.
import '../observability/tracing-register';
import { loadConfigOrExit } from '../config';
import { DEMO_CUSTOMERS, DEMO_PRODUCTS, seedDemoCatalog } from '../catalog/demo-catalog';
import { createLogger } from '../logger';
import { installTemporalRuntime } from '../observability/temporal-runtime';
import { provisionInfrastructure, startServices } from './stack';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger(config.logLevel, 'order-saga');
  // The SDK logs every workflow bundle build at INFO; keep the terminal to what a user needs.
  // With TEMPORAL_METRICS_ADDRESS, the SDK serves its Prometheus metrics there too.
  installTemporalRuntime({
    logLevel: config.logLevel === 'debug' ? 'DEBUG' : 'WARN',
    metricsAddress: config.temporal.metricsAddress,
  });
  const infra = await provisionInfrastructure(config, log);
  let services;
  try {
    services = await startServices(config, infra, log, seedDemoCatalog);
  } catch (err) {
    await infra.stop();
    throw err;
  }

  const api = `http://localhost:${services.port}`;
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

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    await services.stop().catch((err) => log.error({ err }, 'error while stopping services'));
    await infra.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err) => {
  process.stderr.write(`npm start failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
