// The SDK's composed loggers skip the lines the runtime's logger drops before composing their
// metadata, and only for loggers composed on that logger.
import {
  LoggerWithComposedMetadata,
  type LogLevel,
  type LogMetadata,
  type Logger,
} from '@temporalio/common';
import { skipComposingDroppedLines } from './runtime';

function recordingLogger() {
  const lines: { level: LogLevel; message: string; meta?: LogMetadata }[] = [];
  const at =
    (level: LogLevel) =>
    (message: string, meta?: LogMetadata): void => {
      lines.push({ level, message, meta });
    };
  const logger: Logger = {
    log: (level, message, meta) => lines.push({ level, message, meta }),
    trace: at('TRACE'),
    debug: at('DEBUG'),
    info: at('INFO'),
    warn: at('WARN'),
    error: at('ERROR'),
  };
  return { logger, lines };
}

// As the SDK composes an activity's logger: worker metadata, then a function of the activity.
function composed(root: Logger) {
  let composedTimes = 0;
  const logger = LoggerWithComposedMetadata.compose(
    LoggerWithComposedMetadata.compose(root, { sdkComponent: 'worker', taskQueue: 'q' }),
    () => {
      composedTimes++;
      return { activityId: '1' };
    },
  );
  return { logger, composedTimes: () => composedTimes };
}

const quiet = recordingLogger();
const other = recordingLogger();
skipComposingDroppedLines(quiet.logger, ['TRACE', 'DEBUG', 'INFO']);

test('a line the runtime logger drops is not composed, one it keeps is composed as before', () => {
  const { logger, composedTimes } = composed(quiet.logger);
  logger.trace('Got activation');
  logger.debug('Activity started');
  logger.info('Worker state changed');
  expect(composedTimes()).toBe(0);
  expect(quiet.lines).toEqual([]);

  logger.warn('Activity failed', { attempt: 2 });
  expect(composedTimes()).toBe(1);
  expect(quiet.lines).toEqual([
    {
      level: 'WARN',
      message: 'Activity failed',
      meta: { sdkComponent: 'worker', taskQueue: 'q', activityId: '1', attempt: 2 },
    },
  ]);
});

test('loggers composed on any other logger still compose and pass every line on', () => {
  const { logger, composedTimes } = composed(other.logger);
  logger.trace('Got activation');
  logger.debug('Activity started');
  expect(composedTimes()).toBe(2);
  expect(other.lines.map((l) => [l.level, l.meta])).toEqual([
    ['TRACE', { sdkComponent: 'worker', taskQueue: 'q', activityId: '1' }],
    ['DEBUG', { sdkComponent: 'worker', taskQueue: 'q', activityId: '1' }],
  ]);
});
