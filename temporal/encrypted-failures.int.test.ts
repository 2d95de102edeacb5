// With a key configured, failure messages and stack traces reach Temporal encrypted, like the
// payloads: a refusal names SKUs, amounts and customers. A plain client reading the history
// sees "Encoded failure" and ciphertext; the codec-aware client and the saga read the message.
import { randomBytes, randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { LoadedDataConverter, Payload, ProtoFailure } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { eventStoreOptionsFromConfig } from '../eventstore';
import {
  createTestDatabase,
  eventually,
  startTestWorker,
  type TestDatabase,
  type TestWorker,
} from '../test/harness';
import { createDataConverter } from './data-converter';

jest.setTimeout(120_000);

const key = randomBytes(32);
let t: TestDatabase;
let w: TestWorker;
let plain: Client;
beforeAll(async () => {
  t = await createTestDatabase(
    eventStoreOptionsFromConfig({ compression: false, encryptionKey: key, snapshotInterval: 100 }),
  );
  w = await startTestWorker(t.store, {
    dataConverter: createDataConverter({ encryptionKey: key }),
  });
  plain = new Client({
    connection: await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! }),
  });
});
afterAll(async () => {
  await w?.stop();
  await plain?.connection.close();
  await t?.close();
});

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** Every string and every byte array (as latin1) in the value: what a reader of the history sees. */
function visibleText(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('latin1'));
  else if (Array.isArray(value)) for (const v of value) visibleText(v, out);
  else if (value && typeof value === 'object')
    for (const v of Object.values(value as Record<string, unknown>)) visibleText(v, out);
  return out;
}

/** The failures recorded in a history, outermost first, causes included. */
function failuresIn(events: HistoryEvent[]): ProtoFailure[] {
  const failures: ProtoFailure[] = [];
  for (const e of events) {
    let f: ProtoFailure | null | undefined =
      e.activityTaskFailedEventAttributes?.failure ??
      e.workflowTaskFailedEventAttributes?.failure ??
      e.workflowExecutionFailedEventAttributes?.failure ??
      e.workflowExecutionUpdateCompletedEventAttributes?.outcome?.failure;
    while (f) {
      failures.push(f);
      f = f.cause;
    }
  }
  return failures;
}

/**
 * A failure as a codec-aware client reads it, through the data converter's public parts: every
 * payload it carries (its encoded attributes, its details, its causes') through the payload
 * codecs, in reverse as they decode, then the failure converter, which takes the message and
 * stack trace from the decoded attributes.
 */
async function decodeFailure(
  converter: LoadedDataConverter,
  failure: ProtoFailure,
): Promise<Error> {
  const decode = async (payloads: Payload[]) => {
    for (const codec of [...converter.payloadCodecs].reverse())
      payloads = await codec.decode(payloads);
    return payloads;
  };
  const decodePayloads = async (failure: ProtoFailure): Promise<ProtoFailure> => {
    const details = failure.applicationFailureInfo?.details?.payloads;
    return {
      ...failure,
      encodedAttributes: failure.encodedAttributes
        ? (await decode([failure.encodedAttributes]))[0]
        : failure.encodedAttributes,
      applicationFailureInfo: failure.applicationFailureInfo && {
        ...failure.applicationFailureInfo,
        details: details ? { payloads: await decode(details) } : null,
      },
      cause: failure.cause ? await decodePayloads(failure.cause) : failure.cause,
    };
  };
  return converter.failureConverter.failureToError(
    await decodePayloads(failure),
    converter.payloadConverter,
  );
}

test("a refused saga's failure message is not readable in the history; the client and the saga still read it", async () => {
  const customerId = `secret-customer-${randomUUID()}`;
  const sku = `SECRET-SKU-${randomUUID()}`;
  // No stock was ever added: reservation is refused with a message naming the SKU.
  const started = await w.orders.start({
    customerId,
    items: [{ productId: sku, quantity: 3, unitPriceCents: 1234 }],
  });
  await w.client.workflow.getHandle(started.workflowId).result();

  const history = await plain.workflow.getHandle(started.workflowId).fetchHistory();
  const events = history.events ?? [];
  const failures = failuresIn(events);
  expect(failures.length).toBeGreaterThanOrEqual(1);
  for (const f of failures) {
    expect(f.message).toBe('Encoded failure');
    expect(f.stackTrace ?? '').toBe('');
    expect(f.encodedAttributes).toBeTruthy();
  }
  // Nowhere in the history: not in a failure, not in a payload. (The CustomerId search
  // attribute is plain by design: Temporal must read it to index it.)
  expect(visibleText(events).join('\n')).not.toContain(sku);
  expect(visibleText(failures).join('\n')).not.toContain(customerId);

  // The codec-aware client decodes the same failure into the refusal's message.
  const refusal = failures.find((f) => f.applicationFailureInfo?.type === 'INSUFFICIENT_STOCK');
  expect(refusal).toBeDefined();
  const decoded = await decodeFailure(w.client.options.loadedDataConverter, refusal!);
  expect(decoded.message).toContain(sku);
  // And the saga read it in clear too: its state carries the reason.
  const state = await w.orders.state(started.orderId);
  expect(state.lastError).toContain('INSUFFICIENT_STOCK');
  expect(state.lastError).toContain(sku);
});

test('a failure raised in workflow code (the bundle) is encoded too', async () => {
  const workflowId = `order-bad-input-${randomUUID()}`;
  // Items that are not a list: the saga's own validation refuses them inside the sandbox.
  const handle = await w.client.workflow.start('orderSaga', {
    workflowId,
    taskQueue: w.taskQueue,
    args: [
      {
        orderId: workflowId,
        customerId: 'c-secret',
        currency: 'USD',
        items: { secret: 'not-a-list' },
      },
    ],
  });
  try {
    const failure = await eventually(
      async () =>
        failuresIn((await plain.workflow.getHandle(workflowId).fetchHistory()).events ?? [])[0],
      30_000,
      'a failure in the history',
    );
    expect(failure.message).toBe('Encoded failure');
    expect(failure.stackTrace ?? '').toBe('');
    expect(visibleText(failure).join('\n')).not.toMatch(/items/);
    const decoded = await decodeFailure(w.client.options.loadedDataConverter, failure);
    expect(decoded.message).toMatch(/items/);
  } finally {
    await handle.terminate('test done').catch(() => undefined);
  }
});
