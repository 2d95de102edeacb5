// Sagas parked in compensation_failed, read from Temporal visibility (the OrderStatus search
// attribute the saga keeps up to date): what the operations page lists and what the
// order_sagas_compensation_failed gauge counts.
import type { Client } from '@temporalio/client';
import { OrderStatusKey, CustomerIdKey, OrderTotalCentsKey } from '../workflows/search-attributes';

export interface CompensationFailedSaga {
  workflowId: string;
  runId: string;
  orderId: string;
  customerId: string | undefined;
  totalCents: number | undefined;
  startTime: Date;
}

/** The visibility query; a task queue narrows it to one deployment sharing the namespace. */
export function compensationFailedQuery(taskQueue?: string): string {
  const escaped = taskQueue?.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
  return (
    `${OrderStatusKey.name} = 'compensation_failed' AND ExecutionStatus = 'Running'` +
    (escaped === undefined ? '' : ` AND TaskQueue = '${escaped}'`)
  );
}

export async function listCompensationFailed(
  client: Client,
  options: { taskQueue?: string; limit?: number } = {},
): Promise<CompensationFailedSaga[]> {
  const limit = options.limit ?? 100;
  const out: CompensationFailedSaga[] = [];
  for await (const execution of client.workflow.list({
    query: compensationFailedQuery(options.taskQueue),
    pageSize: limit,
  })) {
    const attributes = execution.typedSearchAttributes;
    out.push({
      workflowId: execution.workflowId,
      runId: execution.runId,
      orderId: execution.workflowId.replace(/^order-/, ''),
      customerId: attributes.get(CustomerIdKey),
      totalCents: attributes.get(OrderTotalCentsKey),
      startTime: execution.startTime,
    });
    if (out.length >= limit) break;
  }
  return out;
}

export async function countCompensationFailed(
  client: Client,
  options: { taskQueue?: string } = {},
): Promise<number> {
  const { count } = await client.workflow.count(compensationFailedQuery(options.taskQueue));
  return count;
}
