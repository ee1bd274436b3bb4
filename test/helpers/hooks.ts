import { stopAllStacks } from './stack';

/** Root hooks: whatever stacks the suites started are stopped once, after everything. */
export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(30000);
    await stopAllStacks();
  },
};
