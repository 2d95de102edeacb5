// The active trace, for code that records it (event metadata) or labels it (the correlation
// id). Holds the OpenTelemetry API only once tracing has started (observability/tracing.ts):
// with tracing off, these are two no-op calls and nothing of OpenTelemetry is loaded.
import type * as otel from '@opentelemetry/api';

let api: typeof otel | undefined;

export function enableTraceContext(otelApi: typeof otel): void {
  api = otelApi;
}

/** The trace id of the active span, when tracing is on and a span is active. */
export function currentTraceId(): string | undefined {
  const context = api?.trace.getActiveSpan()?.spanContext();
  return context && api!.isSpanContextValid(context) ? context.traceId : undefined;
}

export const CORRELATION_ID_ATTRIBUTE = 'app.correlation_id';

/** Puts the correlation id on the active span (the HTTP request's, the activity's). */
export function tagCorrelationId(correlationId: string): void {
  api?.trace.getActiveSpan()?.setAttribute(CORRELATION_ID_ATTRIBUTE, correlationId);
}
