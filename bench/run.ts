// `npm run bench [-- --quick] [-- name...]`: runs every scenario in bench/scenarios/ against one
// Postgres (DATABASE_URL, or an embedded one) and, for the saga scenarios, a Temporal dev
// server; prints a table and writes the JSON to bench/results/.
// Server settings to try, on top of the product's (provision/temporal.ts), repeatable:
// `--dynamic-config=KEY=JSON`, `--sqlite-pragma=NAME=VALUE`, `--temporal-db-file` (file-backed
// as npm start runs it, instead of in memory), `--temporal-postgres` (a Temporal server
// persisting to the bench's Postgres, as in production, instead of the dev server). Other
// `--name=value` options go to the scenarios.
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { loadConfigOrExit } from '../config';
import { copyTemplateDatabase, startEphemeralInfrastructure } from '../provision/ephemeral';
import type { BenchRow, BenchScenario } from './scenario';

function loadScenarios(): BenchScenario[] {
  const dir = path.join(__dirname, 'scenarios');
  return (
    fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.bench.ts'))
      .sort()
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- scenarios are discovered at run time
      .map((f) => (require(path.join(dir, f)) as { default: BenchScenario }).default)
  );
}

function table(rows: BenchRow[]): string {
  const header = ['scenario', 'subject', 'variant', 'metric', 'median', 'unit', 'vs baseline'];
  const lines = rows.map((r) => [
    r.scenario,
    r.subject,
    r.variant,
    r.metric,
    r.value >= 100 ? r.value.toFixed(0) : r.value.toFixed(2),
    r.unit,
    r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}x ${r.baseline}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...lines.map(fmt)].join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const names = args.filter((a) => !a.startsWith('--'));
  const options = new Map<string, string[]>();
  for (const arg of args.filter((a) => a.startsWith('--'))) {
    const [name, ...value] = arg.slice(2).split('=');
    options.set(name!, [...(options.get(name!) ?? []), value.join('=')]);
  }
  const dynamicConfig = Object.fromEntries(
    (options.get('dynamic-config') ?? []).map((kv) => {
      const [key, ...value] = kv.split('=');
      return [key!, JSON.parse(value.join('=')) as unknown];
    }),
  );
  const scenarios = loadScenarios().filter(
    (s) => names.length === 0 || names.some((n) => s.name.includes(n)),
  );
  if (scenarios.length === 0) throw new Error(`no scenario matches ${names.join(', ')}`);

  const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
  const infra = await startEphemeralInfrastructure(loadConfigOrExit(), {
    temporal: scenarios.some((s) => s.needsTemporal),
    log,
    temporalServer: {
      dynamicConfig,
      // --sqlite-pragma=none: SQLite's own defaults on a file-backed server.
      sqlitePragmas: options.get('sqlite-pragma')?.filter((p) => p !== 'none'),
      dbFile: options.has('temporal-db-file') ? 'temporal.db' : undefined,
    },
    temporalCluster: options.has('temporal-postgres'),
  });
  // A signal would end the process without the `finally` below, leaving the servers it started
  // running (Ctrl-C reaches them too, a `kill` of this process does not).
  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)
    process.once(signal, () => {
      log(`${signal}: stopping the servers the bench started`);
      void infra.stop().finally(() => process.exit(code));
    });
  const settings = {
    dynamicConfig,
    sqlitePragmas: options.get('sqlite-pragma') ?? [],
    temporalDbFile: options.has('temporal-db-file'),
    temporalPostgres: options.has('temporal-postgres'),
    workerOptions: options.get('worker-option') ?? [],
  };
  log(`server settings beyond the product's: ${JSON.stringify(settings)}`);
  const rows: BenchRow[] = [];
  // A baseline library may change pg's global type parsers (Emmett's makes int8 a BigInt and
  // parses json itself): every scenario starts from pg's defaults.
  const parsers = [20, 114, 3802].map((oid) => [oid, pg.types.getTypeParser(oid)] as const);
  try {
    for (const scenario of scenarios) {
      for (const [oid, parse] of parsers) pg.types.setTypeParser(oid, parse);
      log(`${scenario.name}...`);
      rows.push(
        ...(await scenario.run({
          infra,
          freshDatabase: () => copyTemplateDatabase(infra.adminUrl, infra.templateDatabase),
          quick,
          repeats: quick ? 1 : 3,
          options,
          log: (line) => log(`${scenario.name}: ${line}`),
        })),
      );
    }
  } finally {
    await infra.stop();
  }

  const result = {
    date: new Date().toISOString(),
    node: process.version,
    quick,
    settings,
    rows,
  };
  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${result.date.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(result, null, 2));
  process.stdout.write(`${table(rows)}\n\n${JSON.stringify(result)}\n\nwritten to ${file}\n`);
}

main().catch((err) => {
  process.stderr.write(
    `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
