// `npm run orders -- create|cancel|status|confirm-payment|retry-compensation`: the saga's
// Temporal client from the command line.
import { Command, InvalidArgumentError } from 'commander';
import { listPriceCents } from '../catalog/demo-catalog';
import { createOrderClient } from '../client/order-client';
import { loadConfigOrExit } from '../config';
import type { OrderLine } from '../domain/order';
import { action, connectTemporal, temporalUiUrl } from './connect';

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

async function orders() {
  const client = await connectTemporal(config);
  return createOrderClient(client, {
    taskQueue: config.temporal.taskQueue,
    paymentConfirmationThresholdCents: config.payment.confirmationThresholdCents,
    paymentConfirmationTimeoutMs: config.payment.confirmationTimeoutMs,
  });
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
      const started = await (
        await orders()
      ).start({
        orderId: opts.id,
        customerId: opts.customer,
        currency: opts.currency,
        items: opts.item,
      });
      process.stdout.write(
        `${started.started ? 'Started' : 'Already running'} order ${started.orderId}\n` +
          `  workflow ${started.workflowId} (run ${started.runId})\n` +
          `  ${temporalUiUrl(config, started.workflowId)}\n`,
      );
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
      await (await orders()).cancel(orderId, opts.reason);
      process.stdout.write(`Cancel requested for order ${orderId}\n`);
    }),
  );

program
  .command('confirm-payment <orderId>')
  .description('confirm a large payment the saga is waiting for')
  .action(
    action(async (orderId: string) => {
      await (await orders()).confirmPayment(orderId);
      process.stdout.write(`Payment confirmed for order ${orderId}\n`);
    }),
  );

program
  .command('retry-compensation <orderId>')
  .description('retry a failed compensation (saga in compensation_failed)')
  .action(
    action(async (orderId: string) => {
      await (await orders()).retryCompensation(orderId);
      process.stdout.write(`Compensation retry requested for order ${orderId}\n`);
    }),
  );

if (require.main === module) program.parseAsync().catch(() => process.exit(1));
