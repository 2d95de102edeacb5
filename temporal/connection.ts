// How every process reaches Temporal: the address (or the local dev server's), and TLS or an
// API key for a secured cluster such as Temporal Cloud. The client and the worker connections
// take the same options.
import type { Config } from '../config';

/** Where `npm start` runs the local dev server when TEMPORAL_ADDRESS is unset. */
export const LOCAL_TEMPORAL_ADDRESS = '127.0.0.1:7233';

export interface TemporalConnectionOptions {
  address: string;
  tls?: {
    serverNameOverride?: string;
    serverRootCACertificate?: Buffer;
    clientCertPair?: { crt: Buffer; key: Buffer };
  };
  apiKey?: string;
}

export function temporalConnectionOptions(
  temporal: Pick<Config['temporal'], 'address' | 'tls' | 'apiKey'>,
): TemporalConnectionOptions {
  const options: TemporalConnectionOptions = {
    address: temporal.address ?? LOCAL_TEMPORAL_ADDRESS,
  };
  const { tls, apiKey } = temporal;
  if (tls) {
    options.tls = {
      ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
      ...(tls.serverCa ? { serverRootCACertificate: tls.serverCa } : {}),
      ...(tls.clientCert && tls.clientKey
        ? { clientCertPair: { crt: tls.clientCert, key: tls.clientKey } }
        : {}),
    };
  }
  // An API key implies TLS (Temporal Cloud); the SDK turns TLS on when tls is left unset.
  if (apiKey) options.apiKey = apiKey;
  return options;
}
