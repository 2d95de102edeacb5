import {
  assertServerCanHonour,
  assertWithinBudget,
  ConnectionBudgetError,
  plannedConnections,
} from './connection-budget';

const plan = (pieces: ('worker' | 'projector' | 'api')[], workerDbPoolMax = 20) =>
  plannedConnections({ pieces, workerDbPoolMax, projections: 3 });

test('each process counts the pools and sessions of its pieces', () => {
  expect(plan(['worker']).total).toBe(2 + 20 + 2);
  expect(plan(['projector']).total).toBe(10 + 3 + 1);
  expect(plan(['api']).total).toBe(10 + 1);
  expect(plan(['worker', 'projector', 'api']).total).toBe(10 + 22 + 4 + 1);
  expect(plan(['worker'], 50).parts).toContainEqual({
    name: 'worker (WORKER_DB_POOL_MAX)',
    max: 50,
  });
});

test('a plan above DB_CONNECTION_BUDGET fails with one line naming the variables', () => {
  expect(() => assertWithinBudget(plan(['worker', 'projector', 'api']), 40)).not.toThrow();
  const fail = () => assertWithinBudget(plan(['worker'], 50), 40);
  expect(fail).toThrow(ConnectionBudgetError);
  expect(fail).toThrow(
    'DB_CONNECTION_BUDGET=40 is below the 54 connections this process can open (bootstrap 2 + ' +
      'worker (WORKER_DB_POOL_MAX) 50 + retention 2): lower WORKER_DB_POOL_MAX or raise ' +
      'DB_CONNECTION_BUDGET',
  );
});

test('a budget above what the server accepts fails', () => {
  expect(() => assertServerCanHonour(40, 97)).not.toThrow();
  expect(() => assertServerCanHonour(97, 97)).not.toThrow();
  expect(() => assertServerCanHonour(98, 97)).toThrow(
    /^DB_CONNECTION_BUDGET=98 is more than the 97 connections the server accepts/,
  );
});
