// The watch over a main thread that runs workflow code: its thread reports a main thread held
// without a break (a workflow looping without awaiting), while it is held, and again once it
// runs; a main thread that turns its event loop is never reported.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eventually } from '../test/harness';
import { watchMainThread } from './main-thread-watch';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'main-thread-watch-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const STUCK_AFTER_MS = 1_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Holds the main thread as a workflow looping without awaiting does; `each` runs meanwhile. */
function hold(ms: number, each = () => {}): void {
  const until = Date.now() + ms;
  while (Date.now() < until) each();
}
const watchInto = (file: string) =>
  watchMainThread({ destination: file, stuckAfterMs: STUCK_AFTER_MS, checkEveryMs: 50 });
const linesOf = (file: string): { level: number; msg: string; threadId?: number }[] =>
  fs.existsSync(file)
    ? fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line))
    : [];

test('a main thread held without a break is reported while held, then once it runs again', async () => {
  const file = path.join(dir, 'held.log');
  const stop = watchInto(file);
  try {
    await sleep(200);
    // The warning is written while the thread is held.
    let reportedWhileHeld = false;
    hold(3 * STUCK_AFTER_MS, () => (reportedWhileHeld ||= linesOf(file).length > 0));
    expect(reportedWhileHeld).toBe(true);
    await sleep(500);
    const lines = linesOf(file);
    expect(lines.map((l) => l.msg)).toEqual([
      expect.stringMatching(/^Worker main thread has not turned its event loop for \d+ s: /),
      expect.stringMatching(/^Worker main thread runs again after \d+ s$/),
    ]);
    expect(lines[0]!.msg).toContain('WORKFLOW_ISOLATE_TIMEOUT');
    expect(lines.every((l) => l.level === 40 && l.threadId === 0)).toBe(true);
  } finally {
    await stop();
  }
});

test('a main thread that turns its event loop is not reported', async () => {
  const file = path.join(dir, 'turning.log');
  const stop = watchInto(file);
  try {
    // Busy, in stretches well below the limit, as a loaded worker is.
    for (let i = 0; i < 15; i++) {
      hold(STUCK_AFTER_MS / 5);
      await sleep(0);
    }
    expect(linesOf(file)).toEqual([]);
  } finally {
    await stop();
  }
});

test('the watch is shared: it ends with the last worker that uses it', async () => {
  const file = path.join(dir, 'shared.log');
  const first = watchInto(file);
  const second = watchMainThread();
  await first();
  await first(); // twice is once
  hold(2 * STUCK_AFTER_MS);
  await sleep(300);
  // Still watched for the second: held, then running again.
  expect(linesOf(file)).toHaveLength(2);
  await second();
  hold(2 * STUCK_AFTER_MS);
  await sleep(300);
  expect(linesOf(file)).toHaveLength(2);
});

test('a watch that fails warns and leaves the worker running', async () => {
  const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => {});
  const stop = watchMainThread({ destination: path.join(dir, 'missing', 'watch.log') });
  try {
    const [message] = await eventually(
      async () => emitWarning.mock.calls[0],
      10_000,
      "the watch's warning",
    );
    expect(String(message)).toMatch(/^The main thread's watch stopped: .*ENOENT/);
  } finally {
    emitWarning.mockRestore();
    await stop();
  }
});
