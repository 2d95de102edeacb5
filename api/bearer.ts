// Tokens compared in constant time, against every accepted one (no early exit), so that the
// timing of a refusal tells neither how near a guess was nor which token it was near.
import { timingSafeEqual } from 'node:crypto';

export function tokenAccepted(given: string | undefined, accepted: readonly string[]): boolean {
  if (given === undefined) return false;
  const candidate = Buffer.from(given);
  let ok = false;
  for (const token of accepted) {
    const expected = Buffer.from(token);
    if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) ok = true;
  }
  return ok;
}

/** The token of an `Authorization: Bearer <token>` header, if it is one of `accepted`. */
export function bearerAccepted(header: string | undefined, accepted: readonly string[]): boolean {
  return tokenAccepted(/^Bearer (.+)$/.exec(header ?? '')?.[1], accepted);
}
