// With no OTLP endpoint, tracing costs nothing: loading the worker, the API and `npm start`'s
// stack loads no OpenTelemetry SDK, instrumentation or Temporal interceptor module (only
// @opentelemetry/api, which prom-client and the Temporal SDK load anyway), and the two calls
// left on the hot paths (tagCorrelationId, currentTraceId) are no-ops.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { currentTraceId, tagCorrelationId } from './trace-context';

test('no OpenTelemetry SDK module is loaded when OTEL_EXPORTER_OTLP_ENDPOINT is unset', () => {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('OTEL_')) delete env[name];
  const script = `
    require('./bootstrap'); require('./temporal/order-worker'); require('./api/app'); require('./api/ops/ops-page'); require('./cli/stack');
    const loaded = Object.keys(require.cache)
      .filter((k) => /opentelemetry/.test(k))
      .map((k) => k.replace(/.*node_modules\\//, '').split('/').slice(0, 2).join('/'));
    console.log(JSON.stringify([...new Set(loaded)]));`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: path.join(__dirname, '..'),
    env,
    encoding: 'utf8',
  });
  const packages = JSON.parse(out.trim().split('\n').at(-1)!) as string[];
  expect(packages.filter((p) => p !== '@opentelemetry/api')).toEqual([]);
}, 60_000);

test('the hot-path calls do nothing when tracing is off', () => {
  tagCorrelationId('c-1');
  expect(currentTraceId()).toBeUndefined();
});
