// First import of tracing.fixture.ts: tracing with an in-memory exporter, started before
// http and pg are loaded (as observability/tracing-register does for the entry points).
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { startTracing } from './tracing';

export const exporter = new InMemorySpanExporter();
export const tracing = startTracing({ serviceName: 'order-saga-test', exporter });
