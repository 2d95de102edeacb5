// Replay fixtures: one recorded orderSaga history per path, replayed against the current
// workflow code in `npm test`. `RECORD_HISTORIES=1 npx jest workflows/order-saga.paths.int.test.ts`
// (re)records them from a real run; without the variable the tests only read them.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
// The History message class itself: historyToJSON/historyFromJSON of @temporalio/common trip
// over two copies of protobufjs in this install, toJSON/fromObject of the class do not.
import { temporal } from '@temporalio/proto';

type History = temporal.api.history.v1.History;
const { History } = temporal.api.history.v1;

export const HISTORY_FIXTURES_DIR = path.join(__dirname, 'fixtures', 'histories');

export const recordingHistories = (): boolean => process.env.RECORD_HISTORIES === '1';

/** Writes the workflow's history as fixture `<name>.json` when RECORD_HISTORIES=1. */
export async function recordHistoryIfAsked(
  client: Client,
  workflowId: string,
  name: string,
): Promise<void> {
  if (!recordingHistories()) return;
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  fs.mkdirSync(HISTORY_FIXTURES_DIR, { recursive: true });
  const json = History.fromObject(history).toJSON();
  const file = path.join(HISTORY_FIXTURES_DIR, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(json));
  // Formatted as `npm run lint` (prettier --check) expects.
  execFileSync(process.execPath, [require.resolve('prettier/bin/prettier.cjs'), '--write', file]);
}

/**
 * Histories recorded with earlier code of the saga (its paths: sagaPaths in
 * workflows/order-saga.workflow.ts) are kept in a folder each: sagas of every version still
 * replay. before-hot-path: before HOT_PATH_PATCH (with the guarantees' marker, or none, as the
 * release of 2026-11-27 records them); before-stamp: the hot path with its patch marker, before
 * the order client stamped its sagas; stamped: the hot path as the client's path stamp (memo
 * orderSagaPath) selected it, with no marker, until the stamp was removed.
 */
export const EARLIER_FIXTURE_DIRS = ['before-hot-path', 'before-stamp', 'stamped'];

/** Every fixture: the current recordings by path name, the earlier ones as `<folder>/<path>`. */
export function loadHistoryFixtures(): {
  name: string;
  history: History;
}[] {
  return ['', ...EARLIER_FIXTURE_DIRS].flatMap((dir) =>
    fs
      .readdirSync(path.join(HISTORY_FIXTURES_DIR, dir))
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => ({
        name: path.posix.join(dir, path.basename(f, '.json')),
        history: History.fromObject(
          JSON.parse(fs.readFileSync(path.join(HISTORY_FIXTURES_DIR, dir, f), 'utf8')),
        ),
      })),
  );
}
