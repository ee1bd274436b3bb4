import assert from 'node:assert/strict';
import {
  INSTANCE_TYPES,
  checkFitsHost,
  checkInstanceType,
  checkResources,
  chooseResources,
  describeExit,
  fitToHost,
  formatMiB,
  formatVcpu,
  instanceResources,
  nearMemoryLimit,
  parseResourceRequest,
  type ResourceUsage,
} from '../../worker/protocol/index';
import { resourcesForNewSandbox } from '../../worker/sandbox/sandbox-resources';

const usage = (used: number, limit: number | null): ResourceUsage => ({
  memory: { used, limit },
  processes: { count: 1, limit: null },
  cpu: { seconds: 0 },
  disk: { used: 0 },
  oomKills: 0,
  at: '2026-01-01T00:00:00.000Z',
});

describe('sandbox resources (worker/protocol/resources.ts)', () => {
  describe('INSTANCE_TYPES', () => {
    it("has Cloudflare's six instance types with their vCPU, memory and disk", () => {
      assert.deepEqual(INSTANCE_TYPES, {
        lite: { vcpu: 1 / 16, memoryMiB: 256, diskMB: 2000 },
        basic: { vcpu: 1 / 4, memoryMiB: 1024, diskMB: 4000 },
        'standard-1': { vcpu: 1 / 2, memoryMiB: 4096, diskMB: 8000 },
        'standard-2': { vcpu: 1, memoryMiB: 6144, diskMB: 12000 },
        'standard-3': { vcpu: 2, memoryMiB: 8192, diskMB: 16000 },
        'standard-4': { vcpu: 4, memoryMiB: 12288, diskMB: 20000 },
      });
    });

    it('gives each type a task limit and an in-memory /tmp that follow its memory', () => {
      assert.deepEqual(instanceResources('lite'), { vcpu: 1 / 16, memoryMiB: 256, diskMB: 2000, processes: 256, tmpMiB: 64 });
      assert.equal(instanceResources('standard-1').processes, 2048);
      assert.equal(instanceResources('standard-4').processes, 4096);
      assert.equal(instanceResources('standard-1').tmpMiB, 1024);
    });
  });

  describe('checkInstanceType', () => {
    it("takes the names, and wrangler's older names for the same types", () => {
      assert.equal(checkInstanceType('basic'), 'basic');
      assert.equal(checkInstanceType('dev'), 'lite');
      assert.equal(checkInstanceType('standard'), 'standard-1');
    });

    it('refuses anything else with a 400 that lists the types', () => {
      for (const bad of ['huge', 'Standard-1', '', 5, null, {}]) {
        assert.throws(
          () => checkInstanceType(bad),
          (err: { code: string; status: number; message: string }) => err.code === 'INVALID_INSTANCE_TYPE' && err.status === 400 && err.message.includes('lite, basic, standard-1'),
        );
      }
    });
  });

  describe('parseResourceRequest', () => {
    it('reads instanceType and resources', () => {
      assert.deepEqual(parseResourceRequest({ instanceType: 'lite', resources: { memoryMiB: 512, vcpu: 0.5 } }), {
        instanceType: 'lite',
        resources: { memoryMiB: 512, vcpu: 0.5 },
      });
      assert.deepEqual(parseResourceRequest({}), {});
    });

    it('names the field and its bounds for every bad value', () => {
      const cases: [unknown, RegExp][] = [
        ['512', /'resources' must be an object/],
        [[1], /'resources' must be an object/],
        [{ memory: 512 }, /'resources\.memory' is not a resource; the fields are vcpu, memoryMiB, diskMB, processes, tmpMiB/],
        [{ constructor: 1 }, /'resources\.constructor' is not a resource/],
        [JSON.parse('{"__proto__": 1}'), /'resources\.__proto__' is not a resource/],
        [{ toString: 1 }, /'resources\.toString' is not a resource/],
        [{ memoryMiB: 12.5 }, /'resources\.memoryMiB' must be a whole number of MiB from 64 to 1048576 \(got 12\.5\)/],
        [{ memoryMiB: 8 }, /from 64/],
        [{ vcpu: 0 }, /'resources\.vcpu' must be a number of vCPUs/],
        [{ vcpu: 'one' }, /'resources\.vcpu'/],
        [{ processes: 10 }, /'resources\.processes' must be a whole number of tasks from 64/],
        [{ tmpMiB: -1 }, /'resources\.tmpMiB'/],
      ];
      for (const [resources, message] of cases) {
        assert.throws(
          () => parseResourceRequest({ resources }),
          (err: { status: number; message: string }) => err.status === 400 && message.test(err.message),
          JSON.stringify(resources),
        );
      }
    });

    it('refuses an incomplete set where every field is needed (the host start request)', () => {
      assert.throws(() => checkResources({ memoryMiB: 128 }), /lacks vcpu, diskMB, processes, tmpMiB/);
      assert.deepEqual(checkResources(instanceResources('basic')), instanceResources('basic'));
    });
  });

  describe('chooseResources', () => {
    it('gives the configured type by default, and a named one when asked', () => {
      assert.deepEqual(chooseResources('standard-1', {}), { instanceType: 'standard-1', resources: instanceResources('standard-1') });
      assert.deepEqual(chooseResources('standard-1', { instanceType: 'lite' }), { instanceType: 'lite', resources: instanceResources('lite') });
    });

    it('is custom when any size differs, and derives the task limit and /tmp from the memory given', () => {
      const chosen = chooseResources('standard-1', { instanceType: 'lite', resources: { memoryMiB: 128 } });
      assert.equal(chosen.instanceType, 'custom');
      assert.deepEqual(chosen.resources, { vcpu: 1 / 16, memoryMiB: 128, diskMB: 2000, processes: 256, tmpMiB: 32 });
      assert.equal(chooseResources('lite', { resources: { memoryMiB: 256 } }).instanceType, 'lite', 'the same size is not custom');
    });

    it('refuses a /tmp larger than the memory it lives in', () => {
      assert.throws(() => chooseResources('lite', { resources: { tmpMiB: 300 } }), /cannot exceed the memory \(256 MiB\)/);
    });
  });

  describe('checkFitsHost and fitToHost', () => {
    const host = { memoryMiB: 2048, vcpu: 2 };

    it('refuses memory or CPUs beyond the machine with a 400 naming both figures', () => {
      assert.throws(
        () => checkFitsHost(chooseResources('lite', { instanceType: 'standard-1' }), host),
        (err: { code: string; status: number; message: string }) =>
          err.code === 'RESOURCES_UNAVAILABLE' &&
          err.status === 400 &&
          /Instance type standard-1 has 4 GiB of memory, more than this machine can give a sandbox \(2 GiB\)/.test(err.message),
      );
      assert.throws(() => checkFitsHost(chooseResources('lite', { resources: { vcpu: 3 } }), host), /These resources ask for 3 vCPU, more than this machine has \(2 vCPU\)/);
      checkFitsHost(chooseResources('lite', { instanceType: 'basic' }), host);
    });

    it('shrinks a default that does not fit to the machine', () => {
      const fitted = fitToHost(instanceResources('standard-3'), host);
      assert.equal(fitted.memoryMiB, 2048);
      assert.equal(fitted.vcpu, 2);
      assert.ok(fitted.tmpMiB <= 512);
      assert.deepEqual(fitToHost(instanceResources('lite'), host), instanceResources('lite'));
    });
  });

  describe('resourcesForNewSandbox (the Durable Object)', () => {
    it('uses SANDBOX_INSTANCE_TYPE, or Cloudflare’s default lite without it', () => {
      assert.equal(resourcesForNewSandbox({ configured: 'basic', platform: false, options: {} }).instanceType, 'basic');
      assert.equal(resourcesForNewSandbox({ configured: undefined, platform: false, options: {} }).instanceType, 'lite');
      assert.throws(
        () => resourcesForNewSandbox({ configured: 'nope', platform: false, options: {} }),
        (err: { code: string; message: string }) =>
          err.code === 'INTERNAL_ERROR' && /The Worker's SANDBOX_INSTANCE_TYPE \('nope'\) is not an instance type: set it in wrangler\.jsonc/.test(err.message),
      );
    });

    it('refuses locally what the machine cannot give, and shrinks only the default', () => {
      const capacity = { memoryMiB: 2048, vcpu: 2 };
      assert.throws(
        () => resourcesForNewSandbox({ configured: 'lite', platform: false, options: { resources: { memoryMiB: 4096 } }, capacity }),
        /RESOURCES_UNAVAILABLE|more than this machine/,
      );
      const fallback = resourcesForNewSandbox({ configured: 'standard-1', platform: false, options: {}, capacity });
      assert.equal(fallback.resources.memoryMiB, 2048);
    });

    it('refuses on Cloudflare any size other than the container class’s, saying why', () => {
      assert.throws(
        () => resourcesForNewSandbox({ configured: 'standard-1', platform: true, options: { instanceType: 'lite' } }),
        /every sandbox of this Worker is a standard-1 container/,
      );
      assert.throws(() => resourcesForNewSandbox({ configured: 'standard-1', platform: true, options: { resources: { memoryMiB: 512 } } }), /only locally/);
      assert.equal(resourcesForNewSandbox({ configured: 'standard-1', platform: true, options: { instanceType: 'standard-1' } }).instanceType, 'standard-1');
    });

    it('checks options that came over RPC as a control-API body is checked', () => {
      assert.throws(() => resourcesForNewSandbox({ configured: 'lite', platform: false, options: { resources: { memoryMiB: -5 } } }), /'resources\.memoryMiB'/);
      assert.throws(() => resourcesForNewSandbox({ configured: 'lite', platform: false, options: { instanceType: 'tiny' as never } }), /instance types/);
    });
  });

  describe('words', () => {
    it('says sizes and CPU shares as people write them', () => {
      assert.equal(formatMiB(256), '256 MiB');
      assert.equal(formatMiB(4096), '4 GiB');
      assert.equal(formatMiB(6144 + 512), '6.5 GiB');
      assert.equal(formatVcpu(1 / 16), '1/16 vCPU');
      assert.equal(formatVcpu(0.5), '1/2 vCPU');
      assert.equal(formatVcpu(2), '2 vCPU');
      assert.equal(formatVcpu(0.3), '0.3 vCPU');
    });

    it('marks memory near its limit at 90%, never without a limit', () => {
      assert.equal(nearMemoryLimit(usage(95, 100)), true);
      assert.equal(nearMemoryLimit(usage(80, 100)), false);
      assert.equal(nearMemoryLimit(usage(95, null)), false);
      assert.equal(nearMemoryLimit(undefined), false);
    });

    it('describes an out-of-memory kill with the limit', () => {
      assert.equal(
        describeExit({ status: 'killed', exitCode: 137, signal: 'SIGKILL', reason: 'out-of-memory', memoryLimit: 256 * 1024 * 1024 }),
        'killed: out of memory (256 MiB limit)',
      );
      assert.equal(describeExit({ status: 'killed', exitCode: 143, signal: 'SIGTERM' }), 'killed by SIGTERM');
      assert.equal(describeExit({ status: 'failed', exitCode: 2 }), 'exit code 2');
    });
  });
});
