// The data converter for every Temporal client and worker of the app: payloads, and failure
// messages and stack traces, are encrypted when EVENT_STORE_ENCRYPTION_KEY is set, and left as
// Temporal's default JSON otherwise (so the UI and CLI show failures as they are in dev).
import type { DataConverter } from '@temporalio/common';
import type { KeySource } from '../eventstore/codec';
import { EncryptionCodec } from './encryption-codec';

export interface DataConverterSettings {
  encryptionKey?: Buffer;
  decryptionKeys?: readonly Buffer[];
  /** The Temporal data key (keys/data-key-ring.ts); takes the place of the keys above. */
  temporalKeys?: KeySource;
}

/**
 * Bundled into the workflow code by Worker.create({ workflowsPath }); a pre-built
 * workflowBundle must be built with it (temporal/workflow-bundle.ts).
 */
export const ENCRYPTED_FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

export function createDataConverter(settings: DataConverterSettings): DataConverter {
  if (!settings.encryptionKey && !settings.temporalKeys) return {};
  return {
    failureConverterPath: ENCRYPTED_FAILURE_CONVERTER_PATH,
    payloadCodecs: [
      new EncryptionCodec(
        settings.temporalKeys
          ? { keys: settings.temporalKeys }
          : { encryptionKey: settings.encryptionKey!, decryptionKeys: settings.decryptionKeys },
      ),
    ],
  };
}
