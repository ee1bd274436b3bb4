import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { instanceResources } from '../../worker/protocol/index';
import { folderOf, parseCgroupMounts, parseProcCgroup, readLimit } from '../../container/resources/cgroup-paths';
import { probeLimits, type ProbeInput } from '../../container/host/limits/cgroup-probe';
import { cpuWeight } from '../../container/host/limits/cgroup-v2';
import { cpuShares } from '../../container/host/limits/cgroup-v1';
import { cpuSeconds, locateCgroupFiles, memoryInUse, keyedNumbers } from '../../container/resources/usage';

const MEMINFO = 'MemTotal:       16384000 kB\nMemFree:        1000 kB\n';

/** A folder laid out as cgroupfs would show it: control files are plain files here. */
function tree(root: string, files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    const file = path.join(root, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
}

const read = (file: string) => fs.readFileSync(file, 'utf8');

describe('cgroups', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cgroup-tree-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('where a process sits (cgroup-paths.ts)', () => {
    it('reads v1 lines (comounted controllers too) and the v2 line of /proc/self/cgroup', () => {
      const own = parseProcCgroup('12:pids:/user.slice\n4:cpu,cpuacct:/a/b\n3:memory:/process_api/x\n1:name=systemd:/init.scope\n0::/user.slice/session-2.scope\n');
      assert.equal(own.v1.get('memory'), '/process_api/x');
      assert.equal(own.v1.get('cpu'), '/a/b');
      assert.equal(own.v1.get('cpuacct'), '/a/b');
      assert.equal(own.v2, '/user.slice/session-2.scope');
    });

    it('finds cgroup and cgroup2 mounts in mountinfo, and the folder of a path on a mount of a subtree', () => {
      const mounts = parseCgroupMounts(
        [
          '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
          '32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
          '35 31 0:32 /sandbox/box /sys/fs/cgroup/memory ro,relatime - cgroup cgroup rw,memory',
          '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
        ].join('\n'),
      );
      assert.equal(mounts.v1.get('cpuacct')?.mountPoint, '/sys/fs/cgroup/cpu,cpuacct');
      assert.equal(mounts.v2?.mountPoint, '/sys/fs/cgroup/unified');
      const memory = mounts.v1.get('memory')!;
      assert.equal(folderOf(memory, '/sandbox/box'), '/sys/fs/cgroup/memory');
      assert.equal(folderOf(memory, '/sandbox/box/child'), '/sys/fs/cgroup/memory/child');
      assert.equal(folderOf(memory, '/elsewhere'), null);
    });

    it("reads limits: 'max' and v1's near-2^63 mean none", () => {
      assert.equal(readLimit('max\n'), null);
      assert.equal(readLimit('9223372036854771712\n'), null);
      assert.equal(readLimit('268435456\n'), 268435456);
    });
  });

  describe('cgroup v2 (over a folder laid out as a cgroup2 tree)', () => {
    /** A systemd user session: the host's own cgroup is a scope in app.slice, which delegates memory, pids and cpu. */
    function session(extra: Record<string, string> = {}): ProbeInput {
      const user = 'user.slice/user-1000.slice/user@1000.service';
      tree(path.join(dir, 'cg'), {
        'cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc',
        [`${user}/memory.max`]: String(3 * 1024 ** 3),
        [`${user}/app.slice/cgroup.controllers`]: 'cpu memory pids',
        [`${user}/app.slice/cgroup.subtree_control`]: 'memory pids',
        [`${user}/app.slice/cgroup.procs`]: '',
        [`${user}/app.slice/memory.max`]: 'max',
        [`${user}/app.slice/term.scope/cgroup.controllers`]: 'cpu memory pids',
        [`${user}/app.slice/term.scope/cgroup.subtree_control`]: '',
        [`${user}/app.slice/term.scope/cgroup.procs`]: '4242\n',
        ...extra,
      });
      return {
        requested: 'auto',
        platform: 'linux',
        procSelfCgroup: `0::/${user}/app.slice/term.scope\n`,
        mountinfo: `30 23 0:26 / ${path.join(dir, 'cg')} rw,nosuid - cgroup2 cgroup2 rw\n`,
        meminfo: MEMINFO,
        cpus: 8,
        stateHash: 'abc123',
        // cgroupfs removes a folder with its control files; a plain folder needs them removed too.
        removeFolder: (d) => fs.rmSync(d, { recursive: true }),
      };
    }
    const app = () => path.join(dir, 'cg/user.slice/user-1000.slice/user@1000.service/app.slice');

    it("puts this host's folder beside its own cgroup, in the nearest ancestor that hands the controllers down", () => {
      const support = probeLimits(session());
      assert.equal(support.kind, 'cgroup2');
      // cpu was not yet handed down: the host asked for it.
      assert.equal(read(path.join(app(), 'cgroup.subtree_control')), '+cpu');
      const cg = support.driver!.create('box', { ...instanceResources('lite'), memoryMiB: 128 });
      const box = path.join(app(), 'sandbox-ports-abc123', 'box');
      // Its processes go to a leaf: the cgroup that holds the limits is out of their reach.
      const run = path.join(box, 'run');
      assert.deepEqual(cg, { procsFiles: [path.join(run, 'cgroup.procs')], views: [{ hostDir: run, inside: '/sys/fs/cgroup' }] });
      assert.equal(read(path.join(app(), 'sandbox-ports-abc123', 'cgroup.subtree_control')), '+memory +pids +cpu');
      assert.equal(read(path.join(box, 'cgroup.subtree_control')), '+memory +pids +cpu');
      for (const dir of [box, run]) {
        assert.equal(read(path.join(dir, 'memory.max')), String(128 * 1024 * 1024));
        assert.equal(read(path.join(dir, 'memory.swap.max')), '0');
        assert.equal(read(path.join(dir, 'pids.max')), '256');
        assert.equal(read(path.join(dir, 'cpu.weight')), '6');
      }
      assert.equal(support.driver!.renames, false, 'the kernel renames no v2 cgroup: no warm entries there');
    });

    it('says what a sandbox can get: the tightest memory.max above, the CPUs', () => {
      assert.deepEqual(probeLimits(session()).capacity, { memoryMiB: 3072, vcpu: 8 });
    });

    it('removes a sandbox’s cgroup, and at the end this host’s folder', async () => {
      const { driver } = probeLimits(session());
      driver!.create('a', instanceResources('lite'));
      driver!.create('b', instanceResources('lite'));
      await driver!.remove('a');
      assert.deepEqual(fs.readdirSync(path.join(app(), 'sandbox-ports-abc123')).sort(), ['b', 'cgroup.subtree_control']);
      await driver!.removeAll();
      assert.equal(fs.existsSync(path.join(app(), 'sandbox-ports-abc123')), false);
    });

    it('goes without limits, and says why, where no ancestor hands down memory and pids', () => {
      const input = session({ 'user.slice/user-1000.slice/user@1000.service/app.slice/cgroup.controllers': 'cpu' });
      const support = probeLimits(input);
      assert.equal(support.kind, 'none');
      assert.match(support.reason!, /no cgroup v2 folder this host may write hands down the memory and pids controllers/);
    });

    it('uses the root of the tree when the host runs there (as root)', () => {
      tree(path.join(dir, 'cg'), { 'cgroup.controllers': 'cpu memory pids', 'cgroup.subtree_control': '', 'cgroup.procs': '1\n' });
      const support = probeLimits({ ...session(), procSelfCgroup: '0::/\n' });
      assert.equal(support.kind, 'cgroup2');
      support.driver!.create('x', instanceResources('lite'));
      assert.ok(fs.existsSync(path.join(dir, 'cg/sandbox-ports-abc123/x/memory.max')));
    });

    it('maps vCPUs to weights, and v1 to shares', () => {
      assert.equal(cpuWeight(1), 100);
      assert.equal(cpuWeight(1 / 16), 6);
      assert.equal(cpuWeight(200), 10000);
      assert.equal(cpuShares(1 / 16), 64);
      assert.equal(cpuShares(4), 4096);
    });
  });

  describe('probe', () => {
    it('honours SANDBOX_LIMITS=none, and goes without limits off Linux or without cgroupfs', () => {
      const base: ProbeInput = { requested: 'auto', platform: 'linux', procSelfCgroup: '', mountinfo: '', meminfo: MEMINFO, cpus: 2, stateHash: 'x' };
      assert.equal(probeLimits({ ...base, requested: 'none' }).reason, 'SANDBOX_LIMITS=none');
      assert.match(probeLimits({ ...base, platform: 'darwin' }).reason!, /need Linux/);
      assert.equal(probeLimits(base).reason, 'no cgroup filesystem is mounted');
      assert.deepEqual(probeLimits(base).capacity, { memoryMiB: 16000, vcpu: 2 });
      assert.throws(() => probeLimits({ ...base, requested: 'yes' }), /SANDBOX_LIMITS must be auto or none/);
    });
  });

  describe('reading usage (resources/usage.ts)', () => {
    it('finds the v1 files of its own cgroup, or the v2 ones', () => {
      const v1 = locateCgroupFiles(
        '8:pids:/\n4:memory:/\n2:cpuacct:/\n',
        '1 0 0:1 / /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n2 0 0:2 / /sys/fs/cgroup/pids ro - cgroup cgroup rw,pids\n3 0 0:3 / /sys/fs/cgroup/cpuacct ro - cgroup cgroup rw,cpuacct\n',
        () => true,
      );
      assert.equal(v1.memoryLimit, '/sys/fs/cgroup/memory/memory.limit_in_bytes');
      assert.equal(v1.oomEvents, '/sys/fs/cgroup/memory/memory.oom_control');
      assert.equal(v1.cpuUsage, '/sys/fs/cgroup/cpuacct/cpuacct.usage');
      const v2 = locateCgroupFiles('0::/box\n', '1 0 0:1 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n', () => true);
      assert.equal(v2.memoryLimit, '/sys/fs/cgroup/box/memory.max');
      assert.equal(v2.oomEvents, '/sys/fs/cgroup/box/memory.events');
      assert.equal(locateCgroupFiles('', '', () => true).memoryUsage, null);
    });

    it('counts memory without the droppable file cache, and CPU time in seconds from either layout', () => {
      assert.equal(memoryInUse(1000, keyedNumbers('cache 500\ntotal_inactive_file 300\n')), 700);
      assert.equal(memoryInUse(1000, keyedNumbers('inactive_file 1200\n')), 0);
      assert.equal(cpuSeconds('2500000000\n'), 2.5);
      assert.equal(cpuSeconds('usage_usec 1500000\nuser_usec 1000000\n'), 1.5);
      assert.equal(keyedNumbers('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n').get('oom_kill'), 3);
    });
  });
});
