// Which path a saga takes, and which patch markers it asks for (workflows/saga-paths.ts). The
// replay test (order-saga.replay.int.test.ts) checks the same against recorded histories.
import { chooseSagaPaths, GUARANTEES_PATCH, HOT_PATH_PATCH, NEWEST_SAGA_PATH } from './saga-paths';

/** A patched() that answers from the markers a history holds, and logs what was asked. */
function history(markers: string[]) {
  const asked: string[] = [];
  const patched = (id: string) => {
    asked.push(id);
    return markers.includes(id);
  };
  return { asked, patched };
}

test('a stamped saga takes the hot path and records no marker on a fresh run', () => {
  const h = history([]);
  expect(chooseSagaPaths(NEWEST_SAGA_PATH, false, h.patched)).toEqual({
    guarantees: true,
    hotPath: true,
  });
  expect(h.asked).toEqual([]);
});

test('a stamped saga claims the marker an older worker recorded, and keeps the hot path', () => {
  for (const markers of [[HOT_PATH_PATCH], []]) {
    const h = history(markers);
    expect(chooseSagaPaths(NEWEST_SAGA_PATH, true, h.patched)).toEqual({
      guarantees: true,
      hotPath: true,
    });
    expect(h.asked).toEqual([HOT_PATH_PATCH]);
  }
});

test('an unstamped saga decides by its markers, newest first', () => {
  const fresh = history([]);
  // On a fresh run patched() records the marker and answers true (Temporal's semantics).
  fresh.patched = (id) => (fresh.asked.push(id), true);
  expect(chooseSagaPaths(undefined, false, fresh.patched)).toEqual({
    guarantees: true,
    hotPath: true,
  });
  expect(fresh.asked).toEqual([HOT_PATH_PATCH]);

  expect(chooseSagaPaths(undefined, true, history([HOT_PATH_PATCH]).patched)).toEqual({
    guarantees: true,
    hotPath: true,
  });
  const v2 = history([GUARANTEES_PATCH]);
  expect(chooseSagaPaths(undefined, true, v2.patched)).toEqual({
    guarantees: true,
    hotPath: false,
  });
  expect(v2.asked).toEqual([HOT_PATH_PATCH, GUARANTEES_PATCH]);
  expect(chooseSagaPaths(undefined, true, history([]).patched)).toEqual({
    guarantees: false,
    hotPath: false,
  });
});

test('a stamp naming another path is not trusted: the markers decide', () => {
  const h = history([GUARANTEES_PATCH]);
  expect(chooseSagaPaths('order-saga-some-future-path', true, h.patched)).toEqual({
    guarantees: true,
    hotPath: false,
  });
  expect(h.asked).toEqual([HOT_PATH_PATCH, GUARANTEES_PATCH]);
});
