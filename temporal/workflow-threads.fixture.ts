// Workflows for workflow-threads.int.test.ts: one that never yields (a bug a workflow can
// have: a loop whose exit depends on something that cannot change inside one activation), and
// one that returns at once.

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
