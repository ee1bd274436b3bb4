import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, eventually } from '../helpers/net';
import { tempDir } from '../helpers/stack';
import { hostCgroupFolders } from '../helpers/cgroups';

/**
 * `npm start` and `npm run dev` as a user runs them (scripts/start.mjs; the build step before it is
 * what test:core already ran): the banner, local.json, state kept across restarts and shared
 * between the two runtimes, and Ctrl-C leaving nothing behind.
 */
describe('npm start (plain workerd) and npm run dev (wrangler dev)', function () {
  this.timeout(120000);
  const home = tempDir('home');
  let port: number;
  let child: ChildProcess | null = null;
  let output = '';

  before(async () => {
    port = await freePort();
  });

  after(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGINT');
      await new Promise((r) => child!.once('exit', r));
    }
    fs.rmSync(home, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  /** Runs start.mjs (or another command line, in another folder) and resolves once its banner is out. */
  async function start(args: string[] = [], how: { command?: string; cwd?: string } = {}): Promise<void> {
    output = '';
    const [command, argv] = how.command ? [how.command, args] : [process.execPath, ['scripts/start.mjs', ...args]];
    // Its own process group, as a terminal would run it: Ctrl-C reaches npm and what it started.
    child = spawn(command, argv, {
      cwd: how.cwd ?? process.cwd(),
      detached: true,
      env: { ...process.env, SANDBOX_PORTS_PORT: String(port), SANDBOX_PORTS_HOME: home, SANDBOX_API_TOKEN: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    await eventually(() => /Sandbox Ports is running/.test(output) || child!.exitCode !== null, 90000, 'the banner');
    assert.equal(child.exitCode, null, `start.mjs exited:\n${output}`);
  }

  /** Ctrl-C: resolves with the exit code once start.mjs is gone. */
  async function stop(): Promise<number | null> {
    const c = child!;
    process.kill(-c.pid!, 'SIGINT');
    if (c.exitCode === null) await new Promise((r) => c.once('exit', r));
    child = null;
    return c.exitCode;
  }

  /** Processes whose command line or environment names this home: what the stack started. */
  function leftovers(): string[] {
    const found: string[] = [];
    for (const pid of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
      try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
        if (cmd.includes(home) || env.includes(`SANDBOX_STATE_DIR=${home}`)) found.push(`${pid}: ${cmd.replace(/\0/g, ' ')}`);
      } catch {
        /* gone, or not ours to read */
      }
    }
    return found;
  }

  const local = () => JSON.parse(fs.readFileSync(path.join(home, 'local.json'), 'utf8')) as { url: string; token: string };
  const call = (method: string, p: string, body?: unknown) =>
    fetch(`${local().url}/api/v1${p}`, {
      method,
      headers: { authorization: `Bearer ${local().token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  it('npm start: the banner, local.json (owner-only), the API, and no secret in the config or on a command line', async () => {
    await start();
    assert.match(output, /Sandbox Ports is running \(the Worker on workerd\)/);
    assert.match(output, new RegExp(`Control API : http://127\\.0\\.0\\.1:${port}/api/v1`));
    const { url, token } = local();
    assert.equal(url, `http://127.0.0.1:${port}`);
    assert.match(output, new RegExp(`Token       : ${token}`));
    assert.equal(fs.statSync(path.join(home, 'local.json')).mode & 0o777, 0o600);
    const health = (await (await fetch(`${url}/api/v1/health`)).json()) as { ok: boolean };
    assert.equal(health.ok, true);
    assert.equal((await call('POST', '/sandboxes', { id: 'kept-box' })).status, 201);
    const config = fs.readFileSync(path.join(home, 'state', 'workerd', 'config.capnp'), 'utf8');
    assert.doesNotMatch(config, new RegExp(token), 'the token is not in the config file');
    assert.match(config, /fromEnvironment = "SANDBOX_API_TOKEN"/);
    for (const line of leftovers()) assert.doesNotMatch(line, new RegExp(token), 'the token is on no command line');
    assert.ok(
      leftovers().some((l) => /workerd serve/.test(l)),
      `workerd runs: ${leftovers().join('\n')}`,
    );
  });

  it('says how sandboxes run: isolated, limited, and their instance type', () => {
    assert.match(output, /Sandboxes {3}: isolated \(namespaces\) · limited \(cgroup1\) · instance type standard-1 unless created with another/);
  });

  it("Ctrl-C stops the Worker, the container host and every agent, removes server.pid and the sandboxes' cgroups", async () => {
    assert.ok(fs.existsSync(path.join(home, 'server.pid')));
    assert.ok(
      hostCgroupFolders(path.join(home, 'state')).some((d) => d.endsWith('/kept-box')),
      'the running sandbox has its cgroup',
    );
    assert.equal(await stop(), 0);
    await eventually(() => leftovers().length === 0, 10000, `no process of the stack is left: ${leftovers().join('\n')}`);
    assert.equal(fs.existsSync(path.join(home, 'server.pid')), false);
    assert.deepEqual(hostCgroupFolders(path.join(home, 'state')), []);
  });

  it('a signal to the npm process alone (as a process manager or `kill <pid>` sends it) stops everything', async () => {
    // npm forwards SIGTERM to its script; the script must be the start script itself, not a shell
    // that would swallow it and leave the stack running on the port.
    await start(['start'], { command: 'npm' });
    const npm = child!;
    npm.kill('SIGTERM');
    if (npm.exitCode === null && npm.signalCode === null) await new Promise((r) => npm.once('exit', r));
    child = null;
    await eventually(() => leftovers().length === 0, 10000, `no process of the stack is left: ${leftovers().join('\n')}`);
    assert.equal(fs.existsSync(path.join(home, 'server.pid')), false);
  });

  it('npm start again: the same token, and the sandbox is still listed', async () => {
    const before = local().token;
    await start();
    assert.equal(local().token, before);
    const list = (await (await call('GET', '/sandboxes')).json()) as { sandboxes: { id: string }[] };
    assert.deepEqual(
      list.sandboxes.map((s) => s.id),
      ['kept-box'],
    );
    assert.equal(await stop(), 0);
  });

  it('refuses to start on a port that is taken, saying so', async () => {
    const net = await import('node:net');
    const blocker = net.createServer().listen(port, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    try {
      child = spawn(process.execPath, ['scripts/start.mjs'], {
        env: { ...process.env, SANDBOX_PORTS_PORT: String(port), SANDBOX_PORTS_HOME: home },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      child.stderr!.on('data', (d) => (err += d));
      const code = await new Promise((r) => child!.once('exit', r));
      child = null;
      assert.equal(code, 1);
      assert.match(err, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
      assert.deepEqual(leftovers(), []);
    } finally {
      blocker.close();
    }
  });

  it('npm run dev runs the Worker under wrangler dev on the same state', async () => {
    await start(['--dev']);
    assert.match(output, /wrangler dev: the Worker reloads when worker\/ changes/);
    const list = (await (await call('GET', '/sandboxes')).json()) as { sandboxes: { id: string }[] };
    assert.deepEqual(
      list.sandboxes.map((s) => s.id),
      ['kept-box'],
    );
    assert.ok(
      leftovers().some((l) => /wrangler\.js dev/.test(l)),
      `wrangler dev runs: ${leftovers().join('\n')}`,
    );
    assert.equal(await stop(), 0);
    await eventually(() => leftovers().length === 0, 10000, `no process of the stack is left: ${leftovers().join('\n')}`);
  });

  it('the local runtime package: npm exec of the packed tarball in a folder with no checkout runs the same stack, and Ctrl-C leaves nothing', async function () {
    this.timeout(240000);
    const { packLocal } = (await import('../../scripts/pack-local.mjs' as string)) as { packLocal(): string };
    const tarball = packLocal();
    const elsewhere = tempDir('no-checkout');
    try {
      await start(['exec', '--yes', `--package=${tarball}`, '--', 'sandbox-ports-local'], { command: 'npm', cwd: elsewhere });
      assert.match(output, /Sandbox Ports is running \(the Worker on workerd\)/);
      assert.equal(local().url, `http://127.0.0.1:${port}`);
      // The same state folder: the sandbox made by npm start is there, and new ones run isolated.
      const list = (await (await call('GET', '/sandboxes')).json()) as { sandboxes: { id: string }[] };
      assert.deepEqual(
        list.sandboxes.map((s) => s.id),
        ['kept-box'],
      );
      const ran = (await (await call('POST', '/sandboxes/kept-box/exec', { command: 'hostname; ls /workspace >/dev/null && echo ok' })).json()) as { stdout: string };
      assert.equal(ran.stdout, 'kept-box\nok\n');
      assert.ok(
        leftovers().some((l) => /node_modules\/sandbox-ports-local\//.test(l) || /workerd serve/.test(l)),
        `the package's stack runs: ${leftovers().join('\n')}`,
      );
      assert.equal(fs.existsSync(path.join(elsewhere, '.sandbox-ports')), false, 'nothing written into the folder it ran in');
      await stop();
      await eventually(() => leftovers().length === 0, 10000, `no process of the stack is left: ${leftovers().join('\n')}`);
    } finally {
      fs.rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('the package refuses --dev (no Worker sources to reload), saying where to run it', async () => {
    const { packLocal } = (await import('../../scripts/pack-local.mjs' as string)) as { packLocal(): string };
    const tarball = packLocal();
    const r = spawnSync('npm', ['exec', '--yes', `--package=${tarball}`, '--', 'sandbox-ports-local', '--dev'], {
      cwd: home,
      encoding: 'utf8',
      env: { ...process.env, SANDBOX_PORTS_HOME: home },
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--dev reloads the Worker from its sources, which only a checkout of Sandbox Ports has/);
  });
});
