import assert from 'node:assert/strict';
import { bwrapArgs, envArgs, hasDefaultRoute, pastaArgs, pastaCommand, type SandboxLayout } from '../../container/host/isolation';

const layout = (extra: Partial<SandboxLayout> = {}): SandboxLayout => ({
  sandboxId: 'box',
  workspace: '/state/workspaces/box',
  nodeBinary: '/project/node_modules/node/bin/node',
  agentScript: '/project/dist/agent.js',
  system: [
    { path: '/usr', dir: true },
    { path: '/bin', symlink: 'usr/bin' },
    { path: '/etc', dir: true },
  ],
  tools: {},
  user: null,
  etc: [{ hostFile: '/state/agents/box.etc/hostname', inside: '/etc/hostname' }],
  cgroupViews: [],
  ...extra,
});

/** The options that follow `flag` each time it appears. */
const after = (args: string[], flag: string, n = 1) => args.flatMap((a, i) => (a === flag ? [args.slice(i + 1, i + 1 + n).join(' ')] : []));

describe('isolation command lines', () => {
  describe('pastaCommand', () => {
    const cpu = (flags: string) => `processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: ${flags}\n\nprocessor\t: 1\nflags\t\t: ${flags}\n`;

    it('runs the AVX2 build directly where it is installed and the CPU has AVX2', () => {
      assert.equal(pastaCommand('/usr/bin/pasta.avx2', cpu('fpu sse2 avx avx2 bmi2')), '/usr/bin/pasta.avx2');
    });

    it('runs plain pasta without the build, or on a CPU without AVX2 (avx512f alone is not avx2)', () => {
      assert.equal(pastaCommand(null, cpu('fpu sse2 avx avx2')), 'pasta');
      assert.equal(pastaCommand('/usr/bin/pasta.avx2', cpu('fpu sse2 avx avx512f')), 'pasta');
      assert.equal(pastaCommand('/usr/bin/pasta.avx2', ''), 'pasta');
      // arm64 lists `Features`, never `flags`
      assert.equal(pastaCommand('/usr/bin/passt.avx2', 'processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\n'), 'pasta');
    });
  });

  describe('bwrapArgs', () => {
    it('as a user: every namespace, its own user namespace too; /tmp and HOME sized', () => {
      const args = bwrapArgs(layout({ tmpMiB: 16 }), 4);
      assert.ok(args.includes('--unshare-all'));
      assert.deepEqual(after(args, '--tmpfs'), ['/tmp', '/root']);
      assert.deepEqual(after(args, '--size'), [String(16 * 1024 * 1024), String(16 * 1024 * 1024)]);
      const binds = after(args, '--ro-bind', 2);
      assert.ok(binds.indexOf('/state/agents/box.etc/hostname /etc/hostname') > binds.indexOf('/etc /etc'), "the sandbox's files lie over /etc, after it");
      assert.ok(binds.includes('/project/node_modules/node/bin/node /opt/sandbox-ports/bin/node'), 'the agent runs by its inside path');
    });

    it('as root: no user namespace (the agent becomes the sandbox user), and folders the user can reach', () => {
      const args = bwrapArgs(layout({ user: { uid: 5000, gid: 5000 }, cgroupViews: [{ hostDir: '/sys/fs/cgroup/memory/x/box', inside: '/sys/fs/cgroup/memory' }] }), 4);
      assert.ok(!args.includes('--unshare-all') && !args.includes('--unshare-user'));
      for (const ns of ['--unshare-pid', '--unshare-net', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try']) assert.ok(args.includes(ns), ns);
      // bwrap would make these 0700, out of the sandbox user's reach.
      assert.deepEqual(
        after(args, '--perms', 3).filter((x) => x.includes('--dir')),
        ['0755 --dir /opt', '0755 --dir /opt/sandbox-ports', '0755 --dir /opt/sandbox-ports/bin', '0755 --dir /sys', '0755 --dir /sys/fs', '0755 --dir /sys/fs/cgroup'],
      );
      assert.deepEqual(
        after(args, '--perms', 2).filter((x) => x.endsWith('--tmpfs')),
        ['01777 --tmpfs', '0700 --tmpfs'],
      );
      assert.ok(after(args, '--ro-bind', 2).includes('/sys/fs/cgroup/memory/x/box /sys/fs/cgroup/memory'));
    });

    it('gives the agent exactly its environment, and its IPC channel', () => {
      assert.deepEqual(envArgs({ A: '1', B: 'two words' }), [
        '--clearenv',
        '--setenv',
        'A',
        '1',
        '--setenv',
        'B',
        'two words',
        '--setenv',
        'NODE_CHANNEL_FD',
        '3',
        '--setenv',
        'NODE_CHANNEL_SERIALIZATION_MODE',
        'json',
      ]);
    });

    it("joins a sandbox root made by its network namespace's path, one of its own by its pid", () => {
      assert.deepEqual(pastaArgs(42).slice(-1), ['42']);
      assert.deepEqual(pastaArgs(42, false).slice(-2), ['--netns', '/proc/42/ns/net']);
    });
  });

  describe('hasDefaultRoute', () => {
    const header = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n';
    it('is true once the table has a 0.0.0.0 destination, not before', () => {
      assert.equal(hasDefaultRoute(header), false);
      assert.equal(hasDefaultRoute(`${header}eth0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n`), false);
      assert.equal(hasDefaultRoute(`${header}eth0\t00000000\t0102000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n`), true);
    });
  });
});
