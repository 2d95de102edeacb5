import { bearerAccepted, tokenAccepted } from './bearer';

test('a bearer header is accepted only with one of the tokens, whole', () => {
  const tokens = ['read-token', 'write-token'];
  expect(bearerAccepted('Bearer write-token', tokens)).toBe(true);
  expect(bearerAccepted('Bearer read-token', tokens)).toBe(true);
  expect(bearerAccepted('Bearer write-toke', tokens)).toBe(false);
  expect(bearerAccepted('Bearer write-tokenX', tokens)).toBe(false);
  expect(bearerAccepted('Basic write-token', tokens)).toBe(false);
  expect(bearerAccepted('write-token', tokens)).toBe(false);
  expect(bearerAccepted(undefined, tokens)).toBe(false);
  expect(bearerAccepted('Bearer write-token', [])).toBe(false);
});

test('a bare token (the ops page cookie) is compared the same way', () => {
  expect(tokenAccepted('t-1', ['t-1'])).toBe(true);
  expect(tokenAccepted('t-2', ['t-1'])).toBe(false);
  expect(tokenAccepted(undefined, ['t-1'])).toBe(false);
});
