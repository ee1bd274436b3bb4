/**
 * Local sandboxes contain what runs in them (issue 19): limits by instance type enforced by the
 * kernel (real cgroups), a sandbox's own user and /etc files, and cgroups that never outlive the
 * stack. Every hog here runs under small limits that the test first proves are in force.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Api } from '../helpers/api';
import { eventually } from '../helpers/net';
import { previewRequest } from '../helpers/preview-client';
import { hostCgroupFolders, withinMemoryLimit } from '../helpers/cgroups';
import { newStack, sharedStack, tempDir, type Stack } from '../helpers/stack';

const MiB = 1024 * 1024;
/** A Python loop that takes memory a MiB at a time until the kernel stops it. */
const HOG = `python3 -c "a=[]\nwhile True: a.append(bytearray(1 << 20))"`;

describe('containment (real cgroups, a user of its own, its own /etc files)', function () {
  this.timeout(120000);
  let stack: Stack;
  let api: Api;
  const stamp = Date.now().toString(36);
  const exec = async (box: string, command: string, extra: Record<string, unknown> = {}) => api.ok('POST', `/sandboxes/${box}/exec`, { command, ...extra });

  before(async function () {
    this.timeout(120000);
    stack = await sharedStack();
    api = new Api(stack.url, stack.token);
    const health = await api.ok('GET', '/health');
    assert.equal(health.limits, 'cgroup1', `this machine limits sandboxes with cgroup v1 (${health.limitsReason ?? ''})`);
  });

  describe('limits by instance type', () => {
    it('sizes a sandbox by the configured instance type, or the one it names, and shows its usage', async () => {
      const plain = await api.call('POST', '/sandboxes', { id: `size-std-${stamp}` });
      assert.equal(plain.status, 201, JSON.stringify(plain.body));
      assert.equal(plain.body.instanceType, 'standard-1');
      assert.equal(plain.body.limits.memoryMiB, 4096);
      const lite = await api.ok('POST', '/sandboxes', { id: `size-lite-${stamp}`, instanceType: 'lite' });
      assert.equal(lite.instanceType, 'lite');
      assert.deepEqual(lite.limits, { vcpu: 1 / 16, memoryMiB: 256, diskMB: 2000, processes: 256, tmpMiB: 64 });
      const state = await api.ok('GET', `/sandboxes/${lite.id}`);
      assert.equal(state.resources.memory.limit, 256 * MiB);
      assert.ok(state.resources.memory.used > 0 && state.resources.memory.used < 256 * MiB, JSON.stringify(state.resources));
      assert.equal(state.resources.processes.limit, 256);
      assert.ok(state.resources.processes.count >= 1);
      assert.ok(state.resources.cpu.seconds >= 0);
      // Seen from inside as a container sees it: its own cgroup at /sys/fs/cgroup.
      const inside = await exec(lite.id, 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; grep memory /proc/self/cgroup');
      const [memory, tasks, own] = inside.stdout.trim().split('\n');
      assert.equal(memory, String(256 * MiB));
      assert.equal(tasks, '256');
      assert.match(own!, /^\d+:memory:\/$/, 'its cgroup is the root of its own cgroup namespace');
      for (const id of [plain.body.id, lite.id]) await api.ok('DELETE', `/sandboxes/${id}`);
    });

    it('refuses sizes the machine cannot give, and bad sizes, with a 400 that says what was wrong', async () => {
      const cases: [Record<string, unknown>, number, RegExp][] = [
        [{ resources: { memoryMiB: 1024 * 1024 } }, 400, /1024 GiB of memory, more than this machine can give a sandbox/],
        [{ instanceType: 'huge' }, 400, /must be one of Cloudflare's instance types: lite, basic/],
        [{ resources: { memoryMiB: 'lots' } }, 400, /'resources\.memoryMiB' must be a whole number of MiB/],
        [{ resources: { ram: 1 } }, 400, /'resources\.ram' is not a resource/],
        [{ resources: 512 }, 400, /'resources' must be an object/],
      ];
      for (const [extra, status, message] of cases) {
        const id = `refused-${stamp}`;
        const r = await api.call('POST', '/sandboxes', { id, ...extra });
        assert.equal(r.status, status, JSON.stringify(extra));
        assert.match(r.body.error, message);
        // Nothing is left of a refused create.
        assert.equal((await api.call('GET', `/sandboxes/${id}`)).status, 404);
      }
    });

    it("kills a memory hog with out-of-memory, says so in its record and its log stream, while another sandbox's service keeps answering", async () => {
      const [hogBox, webBox] = [`hog-${stamp}`, `web-${stamp}`];
      await api.ok('POST', '/sandboxes', { id: hogBox, resources: { memoryMiB: 128 } });
      await api.ok('POST', '/sandboxes', { id: webBox, instanceType: 'lite' });
      const limit = await exec(hogBox, 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes');
      assert.equal(limit.stdout.trim(), String(128 * MiB), 'the limit is in force before the hog starts');
      await api.ok('PUT', `/sandboxes/${webBox}/files?path=/workspace/index.html`, 'still here');
      const web = await api.ok('POST', `/sandboxes/${webBox}/processes`, { command: 'python3 -m http.server 8000' });
      await api.ok('POST', `/sandboxes/${webBox}/processes/${web.id}/wait-for-port`, { port: 8000, timeout: 20000 });
      const { url } = await api.ok('POST', `/sandboxes/${webBox}/ports`, { port: 8000 });

      const events = await api.stream('/events');
      await events.waitFor((m) => m.event === 'hello');
      const hog = await api.ok('POST', `/sandboxes/${hogBox}/processes`, { command: HOG });
      const logs = await api.stream(`/sandboxes/${hogBox}/processes/${hog.id}/logs/stream`);
      // While it grows and after, the other sandbox answers.
      assert.equal((await previewRequest(url)).text, 'still here');
      const exit = await logs.waitFor((m) => m.event === 'exit', 30000);
      logs.close();
      assert.deepEqual(JSON.parse(exit.data), { type: 'exit', exitCode: 137, status: 'killed', reason: 'out-of-memory', memoryLimit: 128 * MiB });
      const record = await api.ok('GET', `/sandboxes/${hogBox}/processes/${hog.id}`);
      assert.equal(record.status, 'killed');
      assert.equal(record.exitCode, 137);
      assert.equal(record.signal, 'SIGKILL');
      assert.equal(record.reason, 'out-of-memory');
      assert.equal(record.memoryLimit, 128 * MiB);
      const pushed = await events.waitFor((m) => m.event === 'change' && JSON.parse(m.data).type === 'sandbox-resources' && JSON.parse(m.data).sandboxId === hogBox);
      assert.equal(JSON.parse(pushed.data).resources.oomKills, 1);
      events.close();
      assert.equal((await previewRequest(url)).text, 'still here');
      // The agent was not the one killed: the sandbox goes on.
      assert.equal((await exec(hogBox, 'echo alive')).stdout, 'alive\n');
      const state = await api.ok('GET', `/sandboxes/${hogBox}`);
      assert.equal(state.resources.oomKills, 1);
      // An exec the kernel stops says so in its stderr.
      const execHog = await exec(hogBox, HOG);
      assert.equal(execHog.exitCode, 137);
      assert.match(execHog.stderr, /\[killed: out of memory \(128 MiB limit\)\]\n$/);
      // A process killed by hand is not said to have run out of memory, even just after a kill
      // for memory that no process of the agent's took (the hog here is a command's child).
      const parent = await api.ok('POST', `/sandboxes/${hogBox}/processes`, { command: `${HOG}; sleep 600` });
      await eventually(async () => (await api.ok('GET', `/sandboxes/${hogBox}`)).resources.oomKills === 3, 30000, "the child's kill");
      await api.ok('DELETE', `/sandboxes/${hogBox}/processes/${parent.id}?signal=SIGKILL`);
      await eventually(async () => (await api.ok('GET', `/sandboxes/${hogBox}/processes/${parent.id}`)).status === 'killed', 5000, 'the parent to die');
      assert.equal((await api.ok('GET', `/sandboxes/${hogBox}/processes/${parent.id}`)).reason, undefined);
      for (const id of [hogBox, webBox]) await api.ok('DELETE', `/sandboxes/${id}`);
    });

    it('contains a fork bomb at the task limit: fork fails inside, everything else answers, and killing all leaves nothing', async () => {
      const box = `bomb-${stamp}`;
      await api.ok('POST', '/sandboxes', { id: box, resources: { memoryMiB: 256, processes: 96 } });
      assert.equal((await exec(box, 'cat /sys/fs/cgroup/pids/pids.max')).stdout.trim(), '96', 'the task limit is in force first');
      const baseline = (await api.ok('GET', `/sandboxes/${box}`)).resources.processes.count;
      const bomb = await api.ok('POST', `/sandboxes/${box}/processes`, { command: 'bomb() { bomb | bomb & }; bomb' });
      await eventually(async () => (await api.ok('GET', `/sandboxes/${box}`)).resources.processes.count >= 90, 20000, 'the bomb to reach the limit');
      await eventually(
        async () => /Resource temporarily unavailable/.test((await api.ok('GET', `/sandboxes/${box}/processes/${bomb.id}/logs`)).stderr),
        20000,
        'fork to fail inside the bomb',
      );
      // The control API and the other sandboxes answer; the bomb's own sandbox runs a command when a
      // task is free, and otherwise says why it cannot.
      assert.equal((await api.ok('GET', '/health')).ok, true);
      const more = await exec(box, 'echo more');
      assert.ok(more.stdout === 'more\n' || /reached its limit of processes/.test(more.stderr), JSON.stringify(more));
      const other = `calm-${stamp}`;
      await api.ok('POST', '/sandboxes', { id: other, instanceType: 'lite' });
      assert.equal((await exec(other, 'echo calm')).stdout, 'calm\n');
      await api.ok('DELETE', `/sandboxes/${box}/processes`);
      await eventually(async () => (await api.ok('GET', `/sandboxes/${box}`)).resources.processes.count <= baseline, 10000, 'every task of the bomb to be gone');
      assert.equal((await exec(box, 'echo back')).stdout, 'back\n');
      for (const id of [box, other]) await api.ok('DELETE', `/sandboxes/${id}`);
    });

    it('limits /tmp, and reports the disk a sandbox uses', async () => {
      const box = `disk-${stamp}`;
      await api.ok('POST', '/sandboxes', { id: box, resources: { memoryMiB: 256, tmpMiB: 16 } });
      const full = await exec(box, 'head -c 20000000 /dev/zero > /tmp/big; echo "exit $?"');
      assert.match(full.stderr, /No space left on device/);
      await exec(box, 'rm -f /tmp/big; head -c 3000000 /dev/urandom > /workspace/data.bin');
      // Counted again every few seconds.
      await eventually(async () => (await api.ok('GET', `/sandboxes/${box}`)).resources.disk.used >= 3_000_000, 15000, 'the file to be counted');
      await api.ok('DELETE', `/sandboxes/${box}`);
    });
  });

  it('without limits (SANDBOX_LIMITS=none) says so, and reports no use it cannot tell from the host’s', async () => {
    const free = await newStack({ env: { SANDBOX_LIMITS: 'none' } });
    try {
      const freeApi = new Api(free.url, free.token);
      const health = await freeApi.ok('GET', '/health');
      assert.equal(health.limits, 'none');
      assert.equal(health.limitsReason, 'SANDBOX_LIMITS=none');
      const state = await freeApi.ok('POST', '/sandboxes', { id: 'free', instanceType: 'lite' });
      assert.equal(state.instanceType, 'lite', 'its size is still recorded, for Cloudflare');
      assert.equal(state.resources, undefined, "the agent sits in the host's cgroup: its figures are not the sandbox's");
    } finally {
      await free.stop();
    }
  });

  describe('no host root inside', () => {
    const box = `own-${stamp}`;
    const planted = `/etc/sandbox-ports-planted-${stamp}`;
    before(async () => {
      await api.ok('POST', '/sandboxes', { id: box, instanceType: 'basic' });
      // A root-only file, as shadow, gshadow, sudoers and SSH host keys are.
      fs.writeFileSync(planted, 'host secret\n', { mode: 0o600 });
      fs.chmodSync(planted, 0o600);
    });
    after(async () => {
      fs.rmSync(planted, { force: true });
      await api.call('DELETE', `/sandboxes/${box}`);
    });

    it('reads no root-only host file, by a command or by the files API', async () => {
      assert.equal(fs.readFileSync(planted, 'utf8'), 'host secret\n');
      const r = await exec(box, `cat ${planted}; cat /etc/shadow; echo "uid $(id -u)"`);
      assert.doesNotMatch(r.stdout, /host secret|root:/);
      assert.match(r.stderr, /Permission denied/);
      assert.notEqual(r.stdout.match(/uid (\d+)/)?.[1], '0', 'not root');
      const viaApi = await api.call('GET', `/sandboxes/${box}/files?path=${planted}`);
      assert.ok(viaApi.status >= 400 && viaApi.status < 500, `a 4xx (${viaApi.status})`);
      assert.doesNotMatch(JSON.stringify(viaApi.body), /host secret/);
    });

    it('runs as a user of its own, named in its own passwd, who owns the workspace the API writes', async () => {
      await api.ok('PUT', `/sandboxes/${box}/files?path=/workspace/from-api.txt`, 'api');
      const r = await exec(box, 'whoami; id -u; stat -c %u /workspace/from-api.txt; echo cmd > /workspace/from-cmd.txt; hostname; grep -c "$(hostname)" /etc/hosts');
      const [name, uid, owner, host, named] = r.stdout.trim().split('\n');
      assert.equal(name, 'sandbox');
      assert.notEqual(uid, '0');
      assert.equal(owner, uid, 'files written through the API are the sandbox user’s');
      assert.equal(host, box);
      assert.equal(named, '1', 'its hosts file names it');
      assert.equal((await api.call('GET', `/sandboxes/${box}/files?path=/workspace/from-cmd.txt`)).body, 'cmd\n');
      const onHost = fs.statSync(path.join(stack.stateDir, 'workspaces', box, 'from-cmd.txt'));
      assert.equal(String(onHost.uid), uid, 'on this machine the file belongs to that unprivileged user, not to root');
    });

    it('keeps the tools sandboxes use working: python3, node, npm, git, awk through /etc/alternatives, curl and git over https', async () => {
      const r = await exec(
        box,
        [
          'python3 -c "import ssl, json; ssl.create_default_context(); print(json.dumps(1))"',
          'node -e "console.log(require(\'os\').userInfo().username)"',
          'npm --version',
          'echo "a b" | awk \'{ print $2 }\'',
          'readlink -f "$(command -v awk)"',
          'git init -q repo && cd repo && git -c user.name=t -c user.email=t@e commit -q --allow-empty -m one && git log --oneline | wc -l',
        ].join(' && '),
        { timeout: 60000 },
      );
      assert.equal(r.exitCode, 0, r.stderr);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines[0], '1');
      assert.equal(lines[1], 'sandbox', "node's os.userInfo() knows the user");
      assert.match(lines[2]!, /^\d+\.\d+\.\d+$/);
      assert.equal(lines[3], 'b');
      assert.match(lines[4]!, /^\/usr\/bin\//, 'awk resolves through /etc/alternatives');
      assert.equal(lines[5], '1');
      // One registry round trip each: the host's CA store verifies TLS; names resolve through pasta.
      const net = await exec(box, 'curl -sS -o /dev/null -w "%{http_code}\\n" https://registry.npmjs.org/ws; git ls-remote https://registry.npmjs.org/ 2>&1; true', {
        timeout: 60000,
      });
      assert.match(net.stdout, /^200$/m, net.stdout + net.stderr);
      assert.doesNotMatch(net.stdout, /SSL certificate problem|Could not resolve host/);
    });

    it("names no host path in pid 1's command line, in any process's, or in the environment", async () => {
      const r = await exec(box, 'for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline 2>/dev/null; echo; done; env');
      for (const hostPath of [process.cwd(), stack.stateDir]) assert.ok(!r.stdout.includes(hostPath), `${hostPath} appears:\n${r.stdout}`);
      const pid1 = await exec(box, 'tr "\\0" " " < /proc/1/cmdline');
      assert.match(pid1.stdout, /^bwrap --args \d+ \/opt\/sandbox-ports\/bin\/node \/opt\/sandbox-ports\/agent\.js/);
    });
  });

  describe('cgroups never outlive the stack', () => {
    it('removes a stopped sandbox’s cgroup, and every cgroup of the host when it stops', async () => {
      const own = await newStack({ env: { SANDBOX_CLOUDFLARED: '' } });
      const ownApi = new Api(own.url, own.token);
      await ownApi.ok('POST', '/sandboxes', { id: 'kept', instanceType: 'lite' });
      await ownApi.ok('POST', '/sandboxes', { id: 'gone', instanceType: 'lite' });
      await ownApi.ok('POST', '/sandboxes/kept/processes', { command: 'sleep 600' });
      const made = hostCgroupFolders(own.stateDir);
      assert.ok(made.some((d) => d.endsWith('/kept')) && made.some((d) => d.endsWith('/gone')), made.join('\n'));
      await ownApi.ok('DELETE', '/sandboxes/gone');
      await eventually(() => !hostCgroupFolders(own.stateDir).some((d) => d.endsWith('/gone')), 5000, "the destroyed sandbox's cgroup to go");
      await own.stop();
      assert.deepEqual(hostCgroupFolders(own.stateDir), []);
    });

    it('finds and removes what a SIGKILLed stack left, at the next start', async () => {
      const stateDir = tempDir('crash');
      const first = await newStack({ stateDir });
      const firstApi = new Api(first.url, first.token);
      await firstApi.ok('POST', '/sandboxes', { id: 'crashed', instanceType: 'lite' });
      await firstApi.ok('POST', '/sandboxes/crashed/processes', { command: 'sleep 600' });
      assert.ok(hostCgroupFolders(stateDir).some((d) => d.endsWith('/crashed')));
      // The whole stack at once, as a crash or `kill -9` would.
      for (const pid of [first.host.pid, (first as unknown as { worker: { pid: number } }).worker.pid]) process.kill(pid, 'SIGKILL');
      await eventually(() => fs.readdirSync('/proc').every((p) => !/^\d+$/.test(p) || !readCmdline(p).includes('sleep\u0000600')), 10000, 'the sandbox to die with its host');
      assert.ok(hostCgroupFolders(stateDir).length > 0, 'the cgroups are left behind');
      await first.stop();
      const second = await newStack({ stateDir });
      // What is there now is the new host's own: its folder and the entry it keeps waiting.
      const left = hostCgroupFolders(stateDir).filter((d) => !/\/sandbox-ports-[0-9a-f]+(\/warm-\d+)?$/.test(d));
      assert.deepEqual(left, [], 'the next start removed them');
      const again = await new Api(second.url, second.token).ok('POST', '/sandboxes/crashed/exec', { command: 'echo back' });
      assert.equal(again.stdout, 'back\n');
      await second.stop();
    });

    it('refuses an instance type above the memory of a machine (here: a host in a 3 GiB cgroup), and shrinks the default to it', async () => {
      const { value: small, folder } = await withinMemoryLimit(3072, () => newStack());
      try {
        const smallApi = new Api(small.url, small.token);
        const refused = await smallApi.call('POST', '/sandboxes', { id: 'too-big', instanceType: 'standard-1' });
        assert.equal(refused.status, 400);
        assert.equal(refused.body.code, 'RESOURCES_UNAVAILABLE');
        assert.match(refused.body.error, /Instance type standard-1 has 4 GiB of memory, more than this machine can give a sandbox \(3 GiB\)/);
        const fitted = await smallApi.ok('POST', '/sandboxes', { id: 'fits' });
        assert.equal(fitted.limits.memoryMiB, 3072, 'the configured standard-1 shrinks to the machine');
        assert.equal((await smallApi.ok('POST', '/sandboxes', { id: 'basic', instanceType: 'basic' })).limits.memoryMiB, 1024);
      } finally {
        await small.stop();
        await removeFolder(folder);
      }
    });
  });
});

/** Removes a cgroup of the test's once the tasks that were in it are gone. */
async function removeFolder(folder: string): Promise<void> {
  await eventually(
    () => {
      try {
        fs.rmdirSync(folder);
        return true;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'ENOENT';
      }
    },
    10000,
    `${folder} to empty: ${
      fs.existsSync(folder)
        ? fs
            .readdirSync(folder)
            .filter((f) => !f.includes('.'))
            .join(' ')
        : ''
    }`,
  );
}

function readCmdline(pid: string): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}
