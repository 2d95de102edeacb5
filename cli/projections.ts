// `npm run projections -- status`: positions and lag of every projection.
import { Command } from 'commander';
import { loadConfigOrExit } from '../config';
import { projectionStatus } from '../projections';
import { action, connectDatabase } from './connect';

const config = loadConfigOrExit();
const program = new Command('projections').description('Projection positions, lag and rebuilds');

program
  .command('status')
  .description('positions and lag of every projection')
  .action(
    action(async () => {
      const { db, close } = await connectDatabase(config);
      try {
        const rows = await projectionStatus(db);
        if (rows.length === 0) process.stdout.write('No projection has run yet.\n');
        for (const r of rows) {
          process.stdout.write(
            `${r.name.padEnd(16)} ${r.status.padEnd(8)} position ${r.globalPosition} ` +
              `lag ${r.lagEvents} events / ${r.lagSeconds.toFixed(1)} s` +
              (r.lastError ? `\n  error: ${r.lastError}` : '') +
              '\n',
          );
        }
      } finally {
        await close();
      }
    }),
  );

if (require.main === module) program.parseAsync().catch(() => process.exit(1));
