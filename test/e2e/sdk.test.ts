import assert from 'node:assert/strict';
import path from 'node:path';
import { freePort } from '../helpers/net';
import { nextMessage, previewRequest, previewSocket } from '../helpers/preview-client';
import { bundled } from '../helpers/fixtures';
import { ECHO_SERVER } from '../helpers/services';
import { FAKE_CLOUDFLARED, newStack, type Stack } from '../helpers/stack';

/** The SDK exports (getSandbox, Process objects) used from a user's own Worker, for real. */
describe('SDK › getSandbox from a user Worker (real workerd, real agents)', function () {
  this.timeout(60000);
  let stack: Stack;
  let sdkEchoPort = 0;

  before(async function () {
    this.timeout(120000);
    stack = await newStack({ config: path.resolve('test/fixtures/sdk-worker/wrangler.jsonc'), env: { SANDBOX_CLOUDFLARED: FAKE_CLOUDFLARED } });
  });

  after(async function () {
    this.timeout(30000);
    await stack?.stop();
  });

  async function run(name: string, query = '', body?: Uint8Array): Promise<{ status: number; body: any }> {
    const res = await fetch(`${stack.url}/${name}${query}`, body ? { method: 'POST', body } : {});
    return { status: res.status, body: await res.json() };
  }

  it('startProcess(python3 -m http.server) → waitForPort → kill → waitForExit', async () => {
    const port = await freePort();
    const { status, body } = await run('http-server', `?port=${port}`);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.status, 'running');
    assert.equal(body.after, 'killed');
    assert.deepEqual(body.exit, { exitCode: 137 }, 'waitForExit reports 128 + SIGKILL, as a shell would');
    assert.match(body.id, /^proc-/);
  });

  it('waitForLog takes a string or a RegExp and looks at earlier output', async () => {
    const { status, body } = await run('wait-for-log');
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.byString.line, 'Server ready');
    assert.deepEqual(body.byRegex.match.slice(0, 2), ['Server ready', 'ready']);
    assert.match(body.logs.stdout, /Server ready/);
  });

  it('exec answers success, exitCode, stdout, stderr, command and duration', async () => {
    const { body } = await run('exec');
    assert.equal(body.success, false);
    assert.equal(body.exitCode, 2);
    assert.equal(body.stdout, 'hello\n');
    assert.equal(body.command, 'echo "$GREETING"; exit 2');
    assert.equal(typeof body.duration, 'number');
  });

  it('normalizeId lowercases the id that names the sandbox', async () => {
    const { body } = await run('normalize');
    assert.deepEqual(body, { id: 'myproject-123', echo: 'ok\n' });
  });

  for (const id of ['-x', 'www', 'a'.repeat(64)]) {
    it(`getSandbox refuses the id ${id.slice(0, 12)} naming the rule`, async () => {
      const { status, body } = await run('bad-id', `?id=${encodeURIComponent(id)}`);
      assert.equal(status, 400);
      assert.equal(body.code, 'INVALID_SANDBOX_ID');
    });
  }

  it('readFile detects binary content: a PNG is base64 with its type and size, text stays UTF-8', async () => {
    const { status, body } = await run('read-files');
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.png.encoding, 'base64');
    assert.equal(body.png.isBinary, true);
    assert.equal(body.png.mimeType, 'image/png');
    assert.equal(body.png.size, 17);
    assert.deepEqual([...Buffer.from(body.png.content, 'base64').subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.deepEqual(body.text, { path: '/workspace/hello.txt', content: 'hello, wörld', encoding: 'utf-8', isBinary: false, mimeType: 'text/plain', size: 13 });
  });

  it('exec with a timeout that runs out rejects with a TIMEOUT SandboxError carrying the output so far', async () => {
    const { status, body } = await run('exec-timeout');
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(body, { rejected: { name: 'SandboxError', code: 'TIMEOUT', stdout: 'started\n' } });
  });

  it('getSandbox(…, { enableInternet: false }) makes a sandbox with no outbound network', async () => {
    const { status, body } = await run('offline');
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(body, { routes: '1', internet: false, isolation: 'namespaces' });
  });

  it("getSandbox(…, { instanceType: 'lite' }) sizes a new sandbox, limits in force inside", async () => {
    const { status, body } = await run('sized');
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(body, { instanceType: 'lite', memoryMiB: 256, inside: String(256 * 1024 * 1024) });
  });

  it('exposePort(port, name) gives a preview URL that proxyToSandbox serves; closePort ends it', async () => {
    const port = await freePort();
    const { status, body } = await run('expose', `?port=${port}`, new Uint8Array(bundled(ECHO_SERVER)));
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.exposed.name, 'web-server');
    assert.equal(body.exposed.url, body.exposed.exposedAt);
    assert.equal(body.listed.count, 1);
    // This Worker has no PREVIEW_HOSTNAME var of its own but the stack's: localhost:<port>.
    const page = await previewRequest(`${body.exposed.url}echo`);
    assert.equal(page.status, 200, page.text);
    const closed = await run('close', `?port=${port}`);
    assert.equal(closed.body.count, 0);
    assert.equal((await previewRequest(`${body.exposed.url}echo`)).status, 404);
    sdkEchoPort = port;
  });

  it('wsConnect opens a WebSocket straight to a sandbox port, and refuses bad ports', async () => {
    const ws = previewSocket(`ws://127.0.0.1:${stack.port}/ws/${sdkEchoPort}`);
    const hello = JSON.parse((await nextMessage(ws)).data.toString());
    assert.equal(hello.hello, true);
    ws.send('direct');
    assert.equal((await nextMessage(ws)).data.toString(), 'direct');
    ws.close();
    for (const bad of ['3000', '80', '70000']) {
      const r = await previewRequest(`${stack.url}/ws/${bad}`, {
        headers: { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' },
      });
      assert.equal(r.status, 400, bad);
      assert.match(r.json().error, /Port 3000 is reserved|Invalid port number/);
    }
  });

  it('sandbox.tunnels: get is idempotent, list shows it, destroy takes the record or the port', async () => {
    const { status, body } = await run('tunnels', `?port=${sdkEchoPort}`);
    assert.equal(status, 200, JSON.stringify(body));
    assert.match(body.tunnel.url, /^https:\/\/[a-z0-9-]+\.trycloudflare\.com$/);
    assert.equal(body.same, true);
    assert.deepEqual(
      body.listed.map((t: any) => t.port),
      [sdkEchoPort],
    );
    assert.deepEqual(body.after, []);
  });

  it('exposePort refuses an uppercase id without normalizeId, saying how to fix it', async () => {
    const { status, body } = await run('uppercase');
    assert.equal(status, 400);
    assert.match(body.error, /^Preview URLs require lowercase sandbox IDs/);
  });

  it('the Durable Object keeps the platform container when there is one, and uses the local stand-in only when none and the host is configured', async () => {
    const { body } = await run('seam');
    assert.deepEqual(body, { platform: 'platform', keptPlatform: true, local: 'local', localIsStandIn: true, none: 'none', noneLeftEmpty: true });
  });

  it('getProcess answers null for an unknown id', async () => {
    const { body } = await run('missing-process');
    assert.deepEqual(body, { process: null });
  });
});
