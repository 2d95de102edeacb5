// `npm run orders -- create|status|cancel|add-item|confirm-payment|retry-compensation|skip-compensation`: the
// saga's Temporal client from the command line. An unknown order or a finished saga is said
// so in one line (exit code 1).
import { Command, InvalidArgumentError } from 'commander';
import { listPriceCents } from '../catalog/demo-catalog';
import { orderRecordsOf } from '../application/order-creation';
import { createOrderClient, SagaFinishedError } from '../client/order-client';
import { loadConfigOrExit } from '../config';
import type { OrderLine } from '../domain/order';
import { action, connectDatabase, connectTemporal, temporalUiUrl } from './connect';

const config = loadConfigOrExit();

/** SKU:QTY[:UNIT_PRICE_CENTS]; the price defaults to the demo catalog's list price. */
export function parseItem(value: string, previous: OrderLine[] = []): OrderLine[] {
  const match = /^([^:]+):(\d+)(?::(\d+))?$/.exec(value);
  if (!match) throw new InvalidArgumentError(`"${value}" is not SKU:QTY[:UNIT_PRICE_CENTS]`);
  const [, productId, qty, price] = match as unknown as [
    string,
    string,
    string,
    string | undefined,
  ];
  const unitPriceCents = price === undefined ? listPriceCents(productId) : Number(price);
  if (unitPriceCents === undefined) {
    throw new InvalidArgumentError(
      `${productId} has no list price: give it as ${productId}:${qty}:CENTS`,
    );
  }
  return [...previous, { productId, quantity: Number(qty), unitPriceCents }];
}

/**
 * The order client, with the event store's record of orders and the data keys that Temporal's
 * payloads and the sealed shipping addresses are encrypted with.
 */
async function orders() {
  const database = await connectDatabase(config);
  const client = await connectTemporal(config, database.keyed).catch(async (err: unknown) => {
    await database.close();
    throw err;
  });
  return createOrderClient(client, {
    taskQueue: config.temporal.taskQueue,
    paymentConfirmationThresholdCents: config.payment.confirmationThresholdCents,
    paymentConfirmationTimeoutMs: config.payment.confirmationTimeoutMs,
    useLocalActivities: config.sagaLocalActivities,
    // A reused --id is judged by the event store, as POST /orders judges it.
    orderRecords: orderRecordsOf(database.store, database.keys.personal),
    personalData: database.keys.personal,
  });
}

/** A finished saga takes no more requests: say which request and what the saga ended as. */
async function unlessFinished(request: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof SagaFinishedError) {
      throw new Error(`${err.message}: cannot ${request}. \`status\` shows how it ended.`);
    }
    throw err;
  }
}

const program = new Command('orders').description('Start and steer order sagas');

program
  .command('create')
  .description('start an order saga')
  .requiredOption('--customer <id>', 'customer id')
  .requiredOption('--item <SKU:QTY[:UNIT_PRICE_CENTS]>', 'an order line (repeatable)', parseItem)
  .option('--id <orderId>', 'order id (idempotent: the same id never starts two sagas)')
  .option('--currency <code>', 'ISO 4217 currency', 'USD')
  .action(
    action(async (opts: { customer: string; item: OrderLine[]; id?: string; currency: string }) => {
      const client = await orders();
      const started = await client.start({
        orderId: opts.id,
        customerId: opts.customer,
        currency: opts.currency,
        items: opts.item,
      });
      process.stdout.write(
        `${started.started ? 'Started' : 'Already started'} order ${started.orderId}\n` +
          `  workflow ${started.workflowId} (run ${started.runId})\n` +
          `  ${temporalUiUrl(config, started.workflowId)}\n`,
      );
    }),
  );

program
  .command('customer-ref <customerId>')
  .description(
    "the customer's reference, which their sagas are listed by in Temporal (CustomerId = 'c-…') when a master key is set",
  )
  .action(
    action(async (customerId: string) => {
      const database = await connectDatabase(config);
      try {
        const ref = await database.keys.personal.reference(customerId);
        process.stdout.write(
          ref
            ? `${ref}\n  Temporal UI filter: CustomerId = '${ref}'\n`
            : `${customerId} (no master key: sagas are listed by the customer id)\n`,
        );
      } finally {
        await database.close();
      }
    }),
  );

program
  .command('status <orderId>')
  .description("query the saga's state")
  .action(
    action(async (orderId: string) => {
      process.stdout.write(`${JSON.stringify(await (await orders()).state(orderId), null, 2)}\n`);
    }),
  );

program
  .command('cancel <orderId>')
  .description('ask the saga to cancel the order (compensates what was done)')
  .option('--reason <text>', 'cancellation reason')
  .action(
    action(async (orderId: string, opts: { reason?: string }) => {
      const client = await orders();
      await unlessFinished('cancel it', async () => {
        const { outcome, status } = await client.cancel(orderId, opts.reason);
        process.stdout.write(
          outcome === 'cancelled'
            ? `Order ${orderId} will be cancelled (its compensations run now)\n`
            : `Too late to cancel order ${orderId}: the saga is ${status}\n`,
        );
        if (outcome !== 'cancelled') process.exitCode = 1;
      });
    }),
  );

program
  .command('add-item <orderId>')
  .description('add lines to a pending order (the addItem update; refused once payment started)')
  .requiredOption('--item <SKU:QTY[:UNIT_PRICE_CENTS]>', 'an order line (repeatable)', parseItem)
  .action(
    action(async (orderId: string, opts: { item: OrderLine[] }) => {
      const client = await orders();
      for (const line of opts.item) {
        await unlessFinished('add items', async () => {
          const result = await client.addItem(orderId, line);
          process.stdout.write(
            `Added ${line.quantity} x ${line.productId} to order ${orderId}: ` +
              `${result.itemCount} lines, total ${result.totalCents} cents\n`,
          );
        });
      }
    }),
  );

/** A whole number of cents. */
function parseCents(value: string): number {
  if (!/^\d{1,16}$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError(`"${value}" is not a whole number of cents`);
  }
  return Number(value);
}

program
  .command('confirm-payment <orderId>')
  .description(
    'confirm the large payment the saga is waiting for, of the amount it asks (see `status`)',
  )
  .requiredOption(
    '--amount <cents>',
    "the amount confirmed: the order's total in cents",
    parseCents,
  )
  .action(
    action(async (orderId: string, opts: { amount: number }) => {
      const client = await orders();
      await unlessFinished('confirm its payment', () =>
        client.confirmPayment(orderId, opts.amount),
      );
      process.stdout.write(`Payment of ${opts.amount} cents confirmed for order ${orderId}\n`);
    }),
  );

program
  .command('skip-compensation <orderId> <compensation>')
  .description(
    'give up a compensation that can never succeed (saga in compensation_failed); recorded with the reason',
  )
  .requiredOption('--reason <text>', 'why the compensation is given up')
  .action(
    action(async (orderId: string, compensation: string, opts: { reason: string }) => {
      const client = await orders();
      await unlessFinished('skip a compensation', () =>
        client.skipCompensation(orderId, compensation, opts.reason),
      );
      process.stdout.write(`Compensation ${compensation} of order ${orderId} skipped\n`);
    }),
  );

program
  .command('retry-compensation <orderId>')
  .description('retry a failed compensation (saga in compensation_failed)')
  .action(
    action(async (orderId: string) => {
      const client = await orders();
      await unlessFinished('retry a compensation', () => client.retryCompensation(orderId));
      process.stdout.write(`Compensation retry requested for order ${orderId}\n`);
    }),
  );

if (require.main === module) program.parseAsync().catch(() => process.exit(1));
