/**
 * The local fallback (SANDBOX_ISOLATION=none, what macOS or a Linux without bubblewrap and passt
 * gets): sandboxes are plain processes on this machine's network. It says so, keeps file
 * operations in each sandbox's folder, and never passes off a port held by another sandbox or
 * program as a sandbox's own.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Api } from '../helpers/api';
import { freePort } from '../helpers/net';
import { previewRequest } from '../helpers/preview-client';
import { newStack, type Stack } from '../helpers/stack';

describe('local fallback without isolation (SANDBOX_ISOLATION=none, real stack)', function () {
  this.timeout(90000);
  let stack: Stack;
  let api: Api;
  const box = `plain-${Date.now().toString(36)}`;
  const other = `plain-other-${Date.now().toString(36)}`;
  const base = `/sandboxes/${box}`;

  before(async function () {
    this.timeout(120000);
    stack = await newStack({ env: { SANDBOX_ISOLATION: 'none' } });
    api = new Api(stack.url, stack.token);
    for (const id of [box, other]) await api.ok('POST', '/sandboxes', { id });
  });

  after(async () => {
    await stack?.stop();
  });

  it('says so: /health and each sandbox report isolation none, with the reason', async () => {
    const health = await api.ok('GET', '/health');
    assert.equal(health.isolation, 'none');
    assert.match(health.isolationReason, /SANDBOX_ISOLATION=none/);
    assert.equal((await api.ok('GET', base)).isolation, 'none');
  });

  it("runs commands in the sandbox's folder on this machine, with only the sandbox's environment", async () => {
    const r = await api.ok('POST', `${base}/exec`, { command: 'pwd; env' });
    const [pwd, ...env] = r.stdout.trim().split('\n');
    assert.equal(pwd, path.join(stack.stateDir, 'workspaces', box));
    const names = env.map((l: string) => l.split('=')[0]);
    assert.ok(!names.some((n: string) => n.startsWith('npm_')), r.stdout);
  });

  for (const bad of ['../../etc/passwd', '/etc/passwd', '/workspace/../../etc/passwd', 'a/../../../etc/hostname']) {
    it(`refuses to read ${bad} outside the sandbox's folder with a 4xx`, async () => {
      const r = await api.call('GET', `${base}/files?path=${encodeURIComponent(bad)}`);
      assert.equal(r.status, 403, JSON.stringify(r.body));
      assert.equal(r.body.code, 'PATH_OUTSIDE_WORKSPACE');
      assert.match(r.body.error, /workspace/i);
      const w = await api.call('PUT', `${base}/files?path=${encodeURIComponent(bad)}`, 'x');
      assert.ok(w.status >= 400 && w.status < 500, `write status ${w.status}`);
    });
  }

  it('refuses a symlink that points out of the sandbox', async () => {
    await api.ok('POST', `${base}/exec`, { command: 'ln -sfn /etc escape' });
    const r = await api.call('GET', `${base}/files?path=escape/passwd`);
    assert.equal(r.status, 403);
    assert.equal(r.body.code, 'PATH_OUTSIDE_WORKSPACE');
    const w = await api.call('PUT', `${base}/files?path=escape/owned`, 'x');
    assert.equal(w.status, 403);
    assert.ok(!fs.existsSync('/etc/owned'));
  });

  it("never reads another sandbox's file through a symlink flipped while reads run (checked on the opened file)", async () => {
    const secret = `the other sandbox's secret ${Date.now()}`;
    await api.ok('PUT', `/sandboxes/${other}/files?path=secret.txt`, secret);
    const target = path.join(stack.stateDir, 'workspaces', other, 'secret.txt');
    await api.ok('PUT', `${base}/files?path=mine.txt`, 'mine');
    const flipper = await api.ok('POST', `${base}/processes`, { command: `while true; do ln -sfn mine.txt flip; ln -sfn ${JSON.stringify(target)} flip; done` });
    let reads = 0;
    let escapes = 0;
    const until = Date.now() + 20_000;
    await Promise.all(
      [0, 1, 2, 3].map(async () => {
        while (reads < 600 && Date.now() < until) {
          const r = await api.call('GET', `${base}/files?path=flip`);
          reads++;
          if (typeof r.body === 'string' && r.body.includes(secret)) escapes++;
        }
      }),
    );
    await api.ok('DELETE', `${base}/processes/${flipper.id}?signal=SIGKILL`);
    assert.ok(reads >= 100, `enough reads raced the flips (${reads})`);
    assert.equal(escapes, 0);
  });

  describe('a port held by another program or sandbox', () => {
    let foreign: http.Server;
    let foreignPort: number;

    before(async () => {
      foreign = http.createServer((_q, s) => s.end('not the sandbox'));
      await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
      foreignPort = (foreign.address() as AddressInfo).port;
    });
    after(() => foreign?.close());

    it('waitForPort does not count it as ready, and says who holds it', async () => {
      const sleeper = await api.ok('POST', `${base}/processes`, { command: 'sleep 60' });
      const r = await api.call('POST', `${base}/processes/${sleeper.id}/wait-for-port`, { port: foreignPort, mode: 'tcp', timeout: 1500, interval: 100 });
      assert.equal(r.status, 408, JSON.stringify(r.body));
      assert.match(r.body.error, /did not become ready within 1500ms/);
      assert.match(r.body.error, new RegExp(`held by another program on this machine: pid ${process.pid} \\(`));
      await api.ok('DELETE', `${base}/processes/${sleeper.id}?signal=SIGKILL`);
    });

    it('is not among the detected ports', async () => {
      const detected = await api.ok('GET', `${base}/ports/detected`);
      assert.ok(!detected.ports.some((p: any) => p.port === foreignPort));
    });

    it("a preview of another sandbox's port answers 502 naming the holder, never that sandbox's content", async () => {
      const port = await freePort();
      await api.ok('PUT', `/sandboxes/${other}/files?path=index.html`, 'served by the other sandbox');
      const server = await api.ok('POST', `/sandboxes/${other}/processes`, { command: `python3 -m http.server ${port}` });
      await api.ok('POST', `/sandboxes/${other}/processes/${server.id}/wait-for-port`, { port, timeout: 20000 });
      const { url } = await api.ok('POST', `${base}/ports`, { port });
      const r = await previewRequest(url);
      assert.equal(r.status, 502, r.text);
      assert.equal(r.json().code, 'SERVICE_UNAVAILABLE');
      assert.match(r.json().error, /held by another program on this machine, pid \d+ \(\S*python3 -m http\.server/);
      assert.doesNotMatch(r.text, /served by the other sandbox/);
      // The sandbox that owns it serves it.
      const own = await api.ok('POST', `/sandboxes/${other}/ports`, { port });
      assert.equal((await previewRequest(own.url)).text, 'served by the other sandbox');
    });
  });
});
