import assert from 'node:assert/strict';
import path from 'node:path';
import { freePort } from '../helpers/net';
import { newStack, type Stack } from '../helpers/stack';

/** The SDK exports (getSandbox, Process objects) used from a user's own Worker, for real. */
describe('SDK › getSandbox from a user Worker (real wrangler dev, real agents)', function () {
  this.timeout(60000);
  let stack: Stack;

  before(async function () {
    this.timeout(120000);
    stack = await newStack({ config: path.resolve('test/fixtures/sdk-worker/wrangler.jsonc') });
  });

  after(async function () {
    this.timeout(30000);
    await stack?.stop();
  });

  async function run(name: string, query = ''): Promise<{ status: number; body: any }> {
    const res = await fetch(`${stack.url}/${name}${query}`);
    return { status: res.status, body: await res.json() };
  }

  it('startProcess(python3 -m http.server) → waitForPort → kill → waitForExit', async () => {
    const port = await freePort();
    const { status, body } = await run('http-server', `?port=${port}`);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.status, 'running');
    assert.equal(body.after, 'killed');
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

  it('getProcess answers null for an unknown id', async () => {
    const { body } = await run('missing-process');
    assert.deepEqual(body, { process: null });
  });
});
