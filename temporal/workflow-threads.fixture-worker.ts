// A worker for workflow-threads.int.test.ts in a process of its own (a thread looping without
// awaiting stops only with its process, and the test kills it): runs the fixture bundle
// (WORKFLOW_BUNDLE) on TEMPORAL_TASK_QUEUE with WORKFLOW_ISOLATE_TIMEOUT_MS and WORKFLOW_THREADS,
// prints the SDK's warnings as JSON lines (the main thread's watch prints its own, pino's), and
// "ready" once it polls.
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createWorker } from './workflow-threads';

async function main(): Promise<void> {
  Runtime.install({
    logger: new DefaultLogger('WARN', ({ level, message, meta }) => {
      process.stdout.write(`${JSON.stringify({ level, message, meta })}\n`);
    }),
  });
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS });
  const worker = await createWorker(
    {
      connection,
      taskQueue: process.env.TEMPORAL_TASK_QUEUE!,
      workflowBundle: { codePath: process.env.WORKFLOW_BUNDLE! },
    },
    {
      isolateTimeoutMs: Number(process.env.WORKFLOW_ISOLATE_TIMEOUT_MS),
      threads: Number(process.env.WORKFLOW_THREADS),
    },
  );
  const running = worker.run();
  process.stdout.write('ready\n');
  await running;
  await connection.close();
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
