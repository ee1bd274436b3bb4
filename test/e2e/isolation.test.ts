/**
 * Local sandboxes are isolated like containers (SPEC 1): real namespaces made by bubblewrap and
 * pasta, driven through the real Worker and its control API.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Api } from '../helpers/api';
import { eventually } from '../helpers/net';
import { previewRequest } from '../helpers/preview-client';
import { hostState, newStack, sharedStack, type Stack } from '../helpers/stack';

/** Every process below `pid` on this machine (children, their children, …). */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number): void => {
    let kids: number[];
    try {
      kids = fs.readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return;
    }
    for (const k of kids) {
      out.push(k);
      walk(k);
    }
  };
  walk(pid);
  return out;
}

function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

function hostListens(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('local isolation (real namespaces: bubblewrap and pasta)', function () {
  this.timeout(90000);
  let stack: Stack;
  let api: Api;
  const stamp = Date.now().toString(36);
  const [a, b] = [`iso-a-${stamp}`, `iso-b-${stamp}`];
  const exec = async (box: string, command: string, extra: Record<string, unknown> = {}) => api.ok('POST', `/sandboxes/${box}/exec`, { command, ...extra });

  before(async function () {
    this.timeout(120000);
    stack = await sharedStack();
    api = new Api(stack.url, stack.token);
    for (const box of [a, b]) await api.ok('POST', '/sandboxes', { id: box });
    assert.equal((await hostState(stack, a)).isolation, 'namespaces', 'this machine isolates sandboxes (bubblewrap and passt are installed)');
  });

  it('two sandboxes both serve port 8000, each preview answers with its own content, and the host has no listener on 8000', async () => {
    for (const box of [a, b]) {
      await api.ok('PUT', `/sandboxes/${box}/files?path=/workspace/site/index.html`, `served by ${box}`);
      const proc = await api.ok('POST', `/sandboxes/${box}/processes`, { command: 'python3 -m http.server 8000', cwd: '/workspace/site' });
      const ready = await api.call('POST', `/sandboxes/${box}/processes/${proc.id}/wait-for-port`, { port: 8000, timeout: 20000 });
      assert.equal(ready.status, 200, `${box}: ${JSON.stringify(ready.body)}`);
    }
    for (const box of [a, b]) {
      const { url } = await api.ok('POST', `/sandboxes/${box}/ports`, { port: 8000 });
      assert.equal((await previewRequest(url)).text, `served by ${box}`);
      // As a browser sends it: its own headers pass the host's relay with the preview.
      const fromBrowser = await previewRequest(url, { headers: { accept: 'text/html', 'sec-fetch-site': 'none', 'sec-fetch-mode': 'navigate' } });
      assert.equal(fromBrowser.text, `served by ${box}`);
    }
    assert.equal(await hostListens(8000), false, 'nothing a sandbox binds appears on this machine');
    const detected = await api.ok('GET', `/sandboxes/${a}/ports/detected`);
    assert.deepEqual(detected.ports.filter((p: any) => p.port === 8000).length, 1, 'each sandbox detects only its own listener');
  });

  it('runs node /workspace/app.js after writeFile, with /workspace as the working directory', async () => {
    await api.ok('PUT', `/sandboxes/${a}/files?path=/workspace/app.js`, "console.log('app ran in', process.cwd())");
    const r = await exec(a, 'node /workspace/app.js');
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout, 'app ran in /workspace\n');
  });

  it('has its own hostname (the sandbox id), its own pids, and no host process in /proc', async () => {
    assert.equal((await exec(a, 'hostname')).stdout.trim(), a);
    const pids = (await exec(a, "ls /proc | grep -c '^[0-9]'")).stdout.trim();
    assert.ok(Number(pids) < 20, `only the sandbox's processes are visible (${pids})`);
    const mine = await exec(a, `test -e /proc/${process.pid}/environ && tr '\\0' '\\n' < /proc/${process.pid}/environ | head -1 || echo absent`);
    assert.doesNotMatch(mine.stdout, /npm_|MOCHA/, 'the test runner is not visible');
  });

  it("cannot signal another sandbox's processes", async () => {
    const mark = `600.${Math.floor(Math.random() * 1e9)}`;
    const victim = await api.ok('POST', `/sandboxes/${b}/processes`, { command: `sleep ${mark}` });
    // By its pid in b's namespace, and by the sleep's pid on this machine.
    // The start answers once the process is spawned; its shell may not have become `sleep` yet.
    const findSleep = () =>
      descendants(stack.host.pid).find((p) => {
        try {
          return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8') === `sleep\u0000${mark}\u0000`;
        } catch {
          return false;
        }
      });
    await eventually(() => findSleep() !== undefined, 5000, 'the sleep to run on this machine');
    const hostPid = findSleep();
    assert.ok(hostPid, 'the sleep runs on this machine');
    await exec(a, `kill -9 ${victim.pid} ${hostPid} 2>/dev/null; true`);
    assert.equal((await api.ok('GET', `/sandboxes/${b}/processes/${victim.id}`)).status, 'running');
    assert.ok(alive(hostPid!));
    await api.ok('DELETE', `/sandboxes/${b}/processes/${victim.id}?signal=SIGKILL`);
  });

  it("gives commands only the sandbox's environment: no variable of this machine's leaks in", async () => {
    const env = (await exec(a, 'env', { env: { MINE: 'yes' } })).stdout as string;
    const names = new Set(
      env
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('=')[0]),
    );
    assert.ok(names.has('MINE') && names.has('PATH') && names.has('HOME'));
    const own = new Set(['PATH', 'HOME', 'LANG', 'PWD', 'SHLVL', '_', 'OLDPWD']);
    const leaked = Object.keys(process.env).filter((k) => !own.has(k) && names.has(k));
    assert.deepEqual(leaked, [], env);
  });

  it('reaches the npm registry from inside (outbound network through pasta)', async () => {
    const r = await exec(a, 'npm view ws version', { timeout: 60000 });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+$/);
  });

  it('reports its isolation in /health and in each sandbox', async () => {
    const health = await api.ok('GET', '/health');
    assert.equal(health.isolation, 'namespaces');
    const state = await api.ok('GET', `/sandboxes/${a}`);
    assert.equal(state.isolation, 'namespaces');
    assert.equal(state.internet, true);
  });

  it('gives a sandbox created with enableInternet: false no outbound network at all', async () => {
    const offline = `iso-off-${stamp}`;
    const created = await api.call('POST', '/sandboxes', { id: offline, enableInternet: false });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.internet, false);
    const routes = await exec(offline, 'cat /proc/net/route | wc -l');
    assert.equal(routes.stdout.trim(), '1', 'no route at all, only the header line');
    const r = await exec(offline, `python3 -c "import socket; socket.create_connection(('registry.npmjs.org', 443), timeout=5)"`);
    assert.notEqual(r.exitCode, 0, 'no connection out');
    // Its own loopback still works.
    const lo = await exec(offline, `python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); print('lo ok')"`);
    assert.equal(lo.stdout.trim(), 'lo ok');
    const bad = await api.call('POST', '/sandboxes', { id: `iso-bad-${stamp}`, enableInternet: 'no' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /enableInternet/);
    await api.ok('DELETE', `/sandboxes/${offline}`);
  });

  it('never lets a symlink flipped during reads and writes reach another sandbox (zero escapes)', async () => {
    const secret = `b's own secret ${stamp}`;
    await api.ok('PUT', `/sandboxes/${b}/files?path=/workspace/secret.txt`, secret);
    const bFile = path.join(stack.stateDir, 'workspaces', b, 'secret.txt');
    await api.ok('PUT', `/sandboxes/${a}/files?path=/workspace/mine.txt`, 'a-content');
    // A process in a flips `flip` between its own file and b's file as this machine sees it.
    const flipper = await api.ok('POST', `/sandboxes/${a}/processes`, {
      command: `while true; do ln -sfn /workspace/mine.txt flip; ln -sfn ${JSON.stringify(bFile)} flip; ln -sfn ../${b}/secret.txt flip; done`,
    });
    // A few hundred reads and writes race the flips (bounded in time as well, for a loaded machine).
    const until = Date.now() + 20_000;
    let reads = 0;
    let escapes = 0;
    const worker = async (n: number): Promise<void> => {
      while (reads < 400 && Date.now() < until) {
        const r = await api.call('GET', `/sandboxes/${a}/files?path=flip`);
        reads++;
        if (typeof r.body === 'string' && r.body.includes(secret)) escapes++;
        await api.call('PUT', `/sandboxes/${a}/files?path=flip`, `written by a (${n})`);
      }
    };
    await Promise.all([0, 1, 2, 3].map(worker));
    await api.ok('DELETE', `/sandboxes/${a}/processes/${flipper.id}?signal=SIGKILL`);
    assert.ok(reads >= 100, `enough reads raced the flips (${reads})`);
    assert.equal(escapes, 0);
    assert.equal(fs.readFileSync(bFile, 'utf8'), secret, "b's file is unchanged");
  });

  it('leaves no namespace process (bubblewrap, pasta, agents, services) behind when the stack stops', async () => {
    const own = await newStack();
    const ownApi = new Api(own.url, own.token);
    await ownApi.ok('POST', '/sandboxes', { id: 'leftover-check' });
    await ownApi.ok('POST', '/sandboxes/leftover-check/processes', { command: 'sleep 600' });
    const started = descendants(own.host.pid);
    assert.ok(started.length >= 3, `bubblewrap, pasta and the agent run (${started.length} processes)`);
    await own.stop();
    const deadline = Date.now() + 5000;
    while (started.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(started.filter(alive), []);
  });
});
