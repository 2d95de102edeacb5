// Imported first by the entry points (npm start, api, worker): starts tracing before `http` and
// `pg` are loaded, when OTEL_EXPORTER_OTLP_ENDPOINT is set. A configuration error is left to the
// entry point, which reports it in one line.
import { loadConfig } from '../config';
import { startTracing } from './tracing';

let enabled = false;
let serviceName: string | undefined;
try {
  ({ enabled, serviceName } = loadConfig().tracing);
} catch {
  enabled = false;
}
if (enabled) startTracing({ serviceName });
