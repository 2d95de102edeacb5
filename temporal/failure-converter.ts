// The failure converter used when Temporal payloads are encrypted: a failure's message and
// stack trace move into `encodedAttributes`, a payload that the encryption codec then encrypts,
// so refusal messages (amounts, SKUs, customer ids) never reach Temporal in clear. It is loaded
// by path (DataConverter.failureConverterPath) because workflow bundles need it too.
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
