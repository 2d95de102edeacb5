import { CATCH_UP_PAUSES_MS, MIN_REFRESH_MS, refreshDelay } from './ops-page';

test('a snapshot waits at most 1.5 s for the projections, with seven looks, not sixty', () => {
  expect(CATCH_UP_PAUSES_MS.reduce((a, b) => a + b, 0)).toBe(1500);
  expect(CATCH_UP_PAUSES_MS.length).toBe(7);
  for (let i = 1; i < CATCH_UP_PAUSES_MS.length; i++)
    expect(CATCH_UP_PAUSES_MS[i]!).toBeGreaterThan(CATCH_UP_PAUSES_MS[i - 1]!);
});

test('wake-ups closer than MIN_REFRESH_MS to the last snapshot wait for the rest of it', () => {
  expect(refreshDelay(0)).toBe(MIN_REFRESH_MS);
  expect(refreshDelay(100)).toBe(MIN_REFRESH_MS - 100);
  expect(refreshDelay(MIN_REFRESH_MS)).toBe(0);
  expect(refreshDelay(10_000)).toBe(0);
  // A clock stepped back never makes a wake-up wait longer than the interval.
  expect(refreshDelay(-5_000)).toBe(MIN_REFRESH_MS);
});
