// The HTTP layer tells an unreachable backing service (503, retry) from a bug (500): the
// errors pg and the Temporal client raise when Postgres or Temporal goes away.
import express from 'express';
import request from 'supertest';
import { problemHandler } from './problem';

function appThrowing(err: unknown) {
  const app = express();
  app.get('/', () => {
    throw err;
  });
  app.use(problemHandler(() => undefined));
  return app;
}

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

test.each([
  ['a connection lost mid-query', new Error('Connection terminated unexpectedly')],
  ['a pool that cannot connect in time', new Error('timeout exceeded when trying to connect')],
  [
    'a client broken by an earlier loss',
    new Error('Client has encountered a connection error and is not queryable'),
  ],
  ['a refused connection', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
  ['a reset connection', withCode('read ECONNRESET', 'ECONNRESET')],
  [
    'Postgres shutting down',
    withCode('terminating connection due to administrator command', '57P01'),
  ],
  ['Postgres starting up', withCode('the database system is starting up', '57P03')],
  ['SQLSTATE class 08', withCode('connection failure', '08006')],
  ['too many connections', withCode('sorry, too many clients already', '53300')],
  ['Temporal unreachable', Object.assign(new Error('14 UNAVAILABLE'), { name: 'ServiceError' })],
])('%s is a 503 problem with retry-after', async (_what, err) => {
  const res = await request(appThrowing(err)).get('/');
  expect(res.status).toBe(503);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.headers['retry-after']).toBe('1');
});

test('any other error stays a 500 without internals', async () => {
  const res = await request(appThrowing(new Error('Connection pool is confused'))).get('/');
  expect(res.status).toBe(500);
  expect(res.body).toMatchObject({ status: 500, detail: 'unexpected error' });
});
