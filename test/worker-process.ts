// A saga worker in its own process, for the crash test to SIGKILL and the stuck-workflow test
// to SIGTERM: run with `node --import tsx test/worker-process.ts` and DATABASE_URL,
// TEMPORAL_ADDRESS, TEMPORAL_TASK_QUEUE and WORKFLOW_BUNDLE set. Prints "ready" once it polls,
// and exits 0 once the worker has shut down (the SDK's runtime stops it on SIGTERM). With
// HTTP_PORT, it also answers GET /ping on that port from its main thread, as the API does
// beside the worker under `npm start`.
// With TEMPORAL_DEPLOYMENT_NAME and TEMPORAL_BUILD_ID, it joins that Worker Deployment as that
// version (sagas pinned), and stays out of the routing: an operator (a drill) makes it current.
import http from 'node:http';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createDb, createEventStore, createPool, type EventStoreTables } from '../eventstore';
import { createOrderWorker } from '../temporal/order-worker';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const pool = createPool(env('DATABASE_URL'), { max: 10, applicationName: 'crash-test-worker' });
  const store = createEventStore(createDb<EventStoreTables>(pool));
  const connection = await NativeConnection.connect({ address: env('TEMPORAL_ADDRESS') });
  const worker = await createOrderWorker({
    connection,
    namespace: 'default',
    taskQueue: env('TEMPORAL_TASK_QUEUE'),
    store,
    dbPoolMax: 10,
    workflowBundle: { codePath: env('WORKFLOW_BUNDLE') },
    ...(process.env.TEMPORAL_DEPLOYMENT_NAME
      ? {
          deployment: {
            name: process.env.TEMPORAL_DEPLOYMENT_NAME,
            buildId: env('TEMPORAL_BUILD_ID'),
            versioning: true,
          },
        }
      : {}),
    // A killed worker's sticky queue is abandoned after this long: the next worker then takes
    // over its sagas' workflow tasks (the default is 10 s).
    workerOptions: { stickyQueueScheduleToStartTimeout: '1 second' },
  });
  const server = process.env.HTTP_PORT ? await listen(Number(process.env.HTTP_PORT)) : undefined;
  const running = worker.run();
  process.stdout.write('ready\n');
  await running;
  server?.close();
  await connection.close();
  await pool.end();
}

function listen(port: number): Promise<http.Server> {
  const server = http.createServer((_, res) => res.end('pong'));
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
