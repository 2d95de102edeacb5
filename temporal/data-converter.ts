// The data converter for every Temporal client and worker of the app: payloads are encrypted
// when EVENT_STORE_ENCRYPTION_KEY is set, and left as Temporal's default JSON otherwise.
import type { DataConverter } from '@temporalio/common';
import { EncryptionCodec } from './encryption-codec';

export interface DataConverterSettings {
  encryptionKey?: Buffer;
  decryptionKeys?: readonly Buffer[];
}

export function createDataConverter(settings: DataConverterSettings): DataConverter {
  if (!settings.encryptionKey) return {};
  return {
    payloadCodecs: [
      new EncryptionCodec({
        encryptionKey: settings.encryptionKey,
        decryptionKeys: settings.decryptionKeys,
      }),
    ],
  };
}
