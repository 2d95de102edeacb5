// OpenTelemetry tracing, off by default. With OTEL_EXPORTER_OTLP_ENDPOINT (and the SDK's other
// standard OTEL_* variables) it starts the OpenTelemetry Node SDK with the HTTP and pg
// instrumentations and an OTLP/HTTP exporter, and gives Temporal's OpenTelemetry interceptors
// to the client and the worker (and, through the worker's plugin, to the workflows), so that one
// trace runs from POST /orders through StartWorkflow, the workflow and its activities to the
// INSERT into domain_events. Off, nothing here loads any OpenTelemetry module.
//
// The instrumentations patch `http` and `pg` when they are loaded, so tracing must start before
// them: entry points import observability/tracing-register first.
import type * as OtelApi from '@opentelemetry/api';
import type * as SdkNode from '@opentelemetry/sdk-node';
import type * as SdkTraceBase from '@opentelemetry/sdk-trace-base';
import type * as Resources from '@opentelemetry/resources';
import type * as InstrumentationHttp from '@opentelemetry/instrumentation-http';
import type * as InstrumentationPg from '@opentelemetry/instrumentation-pg';
import type * as OtlpHttp from '@opentelemetry/exporter-trace-otlp-http';
import type * as TemporalOtel from '@temporalio/interceptors-opentelemetry';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { ClientInterceptors } from '@temporalio/client';
import type { BundlerPlugin, WorkerPlugin } from '@temporalio/worker';
import { enableTraceContext } from './trace-context';

export interface Tracing {
  /** For `new Client({ interceptors })`: StartWorkflow, signals, queries carry the trace. */
  clientInterceptors: ClientInterceptors;
  /** For `Worker.create({ plugins })`: workflow and activity interceptors, workflow span export. */
  workerPlugins: WorkerPlugin[];
  /** Flushes pending spans (tests) */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  serviceName?: string;
  /** Replaces the OTLP exporter (tests: an in-memory exporter, exported span by span). */
  exporter?: SpanExporter;
}

let active: Tracing | undefined;

/** The started tracing, or undefined when it is off. */
export function activeTracing(): Tracing | undefined {
  return active;
}

/* eslint-disable @typescript-eslint/no-require-imports -- loaded only when tracing is on */
export function startTracing(options: TracingOptions = {}): Tracing {
  if (active) return active;
  const otelApi = require('@opentelemetry/api') as typeof OtelApi;
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof SdkNode;
  const { BatchSpanProcessor, SimpleSpanProcessor } =
    require('@opentelemetry/sdk-trace-base') as typeof SdkTraceBase;
  const { Resource } = require('@opentelemetry/resources') as typeof Resources;
  const { HttpInstrumentation } =
    require('@opentelemetry/instrumentation-http') as typeof InstrumentationHttp;
  const { PgInstrumentation } =
    require('@opentelemetry/instrumentation-pg') as typeof InstrumentationPg;
  const { OTLPTraceExporter } =
    require('@opentelemetry/exporter-trace-otlp-http') as typeof OtlpHttp;
  const { OpenTelemetryPlugin, OpenTelemetryWorkflowClientInterceptor } =
    require('@temporalio/interceptors-opentelemetry') as typeof TemporalOtel;

  const serviceName = options.serviceName ?? 'order-saga';
  const resource = Resource.default().merge(new Resource({ 'service.name': serviceName }));
  // The OTLP exporter reads OTEL_EXPORTER_OTLP_* itself.
  const exporter = options.exporter ?? new OTLPTraceExporter();
  const spanProcessor = options.exporter
    ? new SimpleSpanProcessor(exporter)
    : new BatchSpanProcessor(exporter);
  const sdk = new NodeSDK({
    resource,
    spanProcessors: [spanProcessor],
    instrumentations: [
      new HttpInstrumentation({
        // Scrapes and probes are not requests anyone wants to follow.
        ignoreIncomingRequestHook: (req) => /^\/(metrics|health|ready)\b/.test(req.url ?? ''),
        // Express has routed the request by the time it answers: name the span by its route
        // (`POST /orders/:id/cancel`), as an Express instrumentation would, without one (the
        // OpenTelemetry Express instrumentation does not support Express 5).
        applyCustomAttributesOnSpan: (span, request) => {
          const req = request as { method?: string; baseUrl?: string; route?: { path?: unknown } };
          if (typeof req.route?.path !== 'string') return;
          const route = `${req.baseUrl ?? ''}${req.route.path}`;
          span.setAttribute('http.route', route);
          span.updateName(`${req.method ?? 'HTTP'} ${route}`);
        },
      }),
      // Only queries inside a traced operation: not the runners' polls and LISTEN loops.
      new PgInstrumentation({ requireParentSpan: true }),
    ],
  });
  sdk.start();
  enableTraceContext(otelApi);
  active = {
    clientInterceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] },
    workerPlugins: [new OpenTelemetryPlugin({ resource, spanProcessor })],
    flush: () => spanProcessor.forceFlush(),
    shutdown: () => sdk.shutdown(),
  };
  return active;
}

/**
 * For `bundleWorkflowCode({ plugins })`: the same plugin the worker gets, so a bundle built
 * ahead of time carries the workflow interceptors that a worker bundling at start would add.
 * The bundler reads only its interceptor modules: the resource and span processor it is built
 * with here export nothing.
 */
export function tracingBundlerPlugins(): BundlerPlugin[] {
  const { NoopSpanProcessor } = require('@opentelemetry/sdk-trace-base') as typeof SdkTraceBase;
  const { Resource } = require('@opentelemetry/resources') as typeof Resources;
  const { OpenTelemetryPlugin } =
    require('@temporalio/interceptors-opentelemetry') as typeof TemporalOtel;
  return [
    new OpenTelemetryPlugin({ resource: Resource.empty(), spanProcessor: new NoopSpanProcessor() }),
  ];
}
/* eslint-enable @typescript-eslint/no-require-imports */
