import fs from 'node:fs';
import path from 'node:path';
import {
  DEV_SERVER_DYNAMIC_CONFIG,
  DEV_SERVER_FILE_PRAGMAS,
  dynamicConfigArgs,
  sqlitePragmaArgs,
} from './temporal';

describe('the Temporal server settings', () => {
  it('passes each default as a --dynamic-config-value flag with a JSON value', () => {
    const args = dynamicConfigArgs();
    expect(args).toEqual(
      Object.entries(DEV_SERVER_DYNAMIC_CONFIG).flatMap(([key, value]) => [
        '--dynamic-config-value',
        `${key}=${JSON.stringify(value)}`,
      ]),
    );
    expect(args).toContain('history.transferProcessorMaxPollRPS=10000');
    expect(args).toContain('system.enableActivityEagerExecution=true');
  });

  it('lets an override replace a default instead of passing the key twice', () => {
    const args = dynamicConfigArgs({
      'history.transferProcessorMaxPollRPS': 20,
      'matching.numTaskqueueReadPartitions': 1,
    });
    const values = args.filter((a) => a !== '--dynamic-config-value');
    expect(values.filter((v) => v.startsWith('history.transferProcessorMaxPollRPS='))).toEqual([
      'history.transferProcessorMaxPollRPS=20',
    ]);
    expect(values).toContain('matching.numTaskqueueReadPartitions=1');
  });

  it('gives the docker-compose cluster the same values as the dev server', () => {
    const yaml = fs.readFileSync(path.join(__dirname, 'temporal-dynamic-config.yaml'), 'utf8');
    const entries = [...yaml.matchAll(/^([\w.]+):\n\s+- value: (.+)$/gm)].map(
      ([, key, value]) => [key, JSON.parse(value!) as unknown] as const,
    );
    expect(Object.fromEntries(entries)).toEqual(DEV_SERVER_DYNAMIC_CONFIG);
  });

  it('gives a file-backed server a write-ahead log synced at checkpoints, and none in memory', () => {
    expect(DEV_SERVER_FILE_PRAGMAS).toEqual(['journal_mode=WAL', 'synchronous=NORMAL']);
    expect(sqlitePragmaArgs({ dbFile: '.data/temporal.db' })).toEqual([
      '--sqlite-pragma',
      'journal_mode=WAL',
      '--sqlite-pragma',
      'synchronous=NORMAL',
    ]);
    expect(sqlitePragmaArgs({})).toEqual([]);
    expect(sqlitePragmaArgs({ dbFile: 'x.db', sqlitePragmas: [] })).toEqual([]);
    expect(sqlitePragmaArgs({ sqlitePragmas: ['synchronous=OFF'] })).toEqual([
      '--sqlite-pragma',
      'synchronous=OFF',
    ]);
  });
});
