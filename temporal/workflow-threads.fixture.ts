// Workflows for workflow-threads.int.test.ts: one that never yields (a bug a workflow can
// have: a loop whose exit depends on something that cannot change inside one activation), one
// that returns at once, one that waits in two places, for its stacks to be queried, and one
// that keeps a global of its own while others run in the same sandbox.
import { condition, defineSignal, setHandler, sleep } from '@temporalio/workflow';

export async function loopWithoutAwaiting(): Promise<number> {
  // Date.now() is frozen during an activation in the sandbox: this never ends.
  const until = Date.now() + 1;
  let spins = 0;
  while (Date.now() < until) spins++;
  return spins;
}

export async function returnAtOnce(): Promise<string> {
  return 'done';
}

/** Waits in two places at once, through Promise.race and Promise.all: stacks to query. */
export async function waitInTwoPlaces(): Promise<void> {
  await Promise.race([waitForBoth(), sleep('2 hours')]);
}

async function waitForBoth(): Promise<void> {
  await Promise.all([sleep('1 hour'), condition(() => false)]);
}

export const releaseSignal = defineSignal('release');

/**
 * Sets a global, waits for the release signal while other workflows run in the same sandbox,
 * and returns the global as it found it and as it reads it at the end.
 */
export async function keepsItsGlobal(id: string): Promise<[unknown, unknown]> {
  const global = globalThis as { mine?: string };
  const before = global.mine;
  global.mine = id;
  let released = false;
  setHandler(releaseSignal, () => {
    released = true;
  });
  await condition(() => released);
  // null for none: the result goes out as JSON.
  return [before ?? null, global.mine ?? null];
}
