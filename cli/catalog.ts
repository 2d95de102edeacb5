// `npm run catalog -- restock SKU --quantity N` / `credit CUSTOMER --cents N`.
import { Command, InvalidArgumentError } from 'commander';
import { grantCredit, restockProduct } from '../catalog/catalog';
import { loadConfigOrExit } from '../config';
import { action, connectDatabase } from './connect';

const config = loadConfigOrExit();

function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)) || Number(value) <= 0) {
    throw new InvalidArgumentError('must be a positive integer');
  }
  return Number(value);
}

const program = new Command('catalog').description('Restock products and grant customer credit');

program
  .command('restock <productId>')
  .requiredOption('--quantity <n>', 'units to add', positiveInt)
  .action(
    action(async (productId: string, opts: { quantity: number }) => {
      const { store, close } = await connectDatabase(config);
      try {
        const r = await restockProduct(store, productId, opts.quantity, {
          metadata: { correlationId: 'cli' },
        });
        process.stdout.write(
          `${productId}: on hand ${r.onHand}, reserved ${r.reserved}, available ${r.onHand - r.reserved} (version ${r.version})\n`,
        );
      } finally {
        await close();
      }
    }),
  );

program
  .command('credit <customerId>')
  .requiredOption('--cents <n>', 'credit to grant, in cents', positiveInt)
  .action(
    action(async (customerId: string, opts: { cents: number }) => {
      const { store, close } = await connectDatabase(config);
      try {
        const r = await grantCredit(store, customerId, opts.cents, {
          metadata: { correlationId: 'cli' },
        });
        process.stdout.write(
          `${customerId}: available ${r.availableCents} cents, spent ${r.spentCents} cents (version ${r.version})\n`,
        );
      } finally {
        await close();
      }
    }),
  );

if (require.main === module) program.parseAsync().catch(() => process.exit(1));
