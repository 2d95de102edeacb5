// The bare workflow's activities: `noop` returns at once, so only Temporal's own cost is
// measured; `wait` waits on a timer first, as an activity waiting on I/O does, with no work.
export const bareActivities = {
  async noop(step: number): Promise<number> {
    return step;
  },
  async wait(ms: number): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return ms;
  },
};

export type BareActivities = typeof bareActivities;
