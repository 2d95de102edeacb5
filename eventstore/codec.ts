// How an event payload is stored: plain jsonb by default. Other codecs (compression,
// encryption) write bytes to event_data_bytes and name themselves in the codec column.

export interface EncodedPayload {
  codec: string;
  json: unknown;
  bytes: Buffer | null;
  keyId: string | null;
}

export interface PayloadCodec {
  encode(data: unknown): EncodedPayload;
  decode(payload: EncodedPayload): unknown;
}

export const jsonCodec: PayloadCodec = {
  encode: (data) => ({ codec: 'json', json: data, bytes: null, keyId: null }),
  decode(payload) {
    if (payload.codec !== 'json') {
      throw new Error(`Event payload uses codec "${payload.codec}", which is not configured`);
    }
    return payload.json;
  },
};
