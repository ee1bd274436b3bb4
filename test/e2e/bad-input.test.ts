import assert from 'node:assert/strict';
import { Api } from '../helpers/api';
import { previewRequest } from '../helpers/preview-client';
import { sharedStack } from '../helpers/stack';

/** Every route takes bad input and answers a 4xx JSON error that says what was wrong. */
describe('control API › bad input sweep', function () {
  this.timeout(60000);
  let api: Api;
  let anon: Api;
  const box = `bad-${Date.now().toString(36)}`;
  const base = `/sandboxes/${box}`;
  let pid: string;

  before(async function () {
    this.timeout(120000);
    const stack = await sharedStack();
    api = new Api(stack.url, stack.token);
    anon = new Api(stack.url, null);
    await api.ok('POST', '/sandboxes', { id: box });
    pid = (await api.ok('POST', `${base}/processes`, { command: 'sleep 120' })).id;
  });

  after(async () => {
    await api.call('DELETE', `${base}/processes`);
  });

  async function fetchWithHost(host: string, path = '/'): Promise<{ status: number; body: any }> {
    const r = await previewRequest(`${api.url}${path}`, { headers: { host } });
    return { status: r.status, body: JSON.parse(r.text) };
  }

  function expect4xx(r: { status: number; body: any }, code?: string, message?: RegExp) {
    assert.ok(r.status >= 400 && r.status < 500, `expected 4xx, got ${r.status} ${JSON.stringify(r.body)}`);
    assert.equal(typeof r.body.error, 'string', `JSON error body: ${JSON.stringify(r.body)}`);
    assert.ok(r.body.error.length > 5);
    if (code) assert.equal(r.body.code, code);
    if (message) assert.match(r.body.error, message);
  }

  describe('auth', () => {
    it('answers health without a token', async () => {
      const r = await anon.call('GET', '/health');
      assert.equal(r.status, 200);
      assert.equal(r.body.ok, true);
    });
    for (const [method, path] of [
      ['GET', '/sandboxes'],
      ['POST', '/sandboxes'],
      ['GET', '/events'],
      ['DELETE', '/sandboxes/x'],
      ['POST', '/sandboxes/x/exec'],
    ]) {
      it(`refuses ${method} ${path} without a token (401)`, async () => {
        expect4xx(await anon.call(method!, path!), 'UNAUTHORIZED');
      });
    }
    it('refuses a wrong token (401)', async () => {
      expect4xx(await new Api(api.url, 'wrong').call('GET', '/sandboxes'), 'UNAUTHORIZED', /Invalid bearer token/);
    });
    it('refuses a token that differs from the real one only in its last character, or is a prefix of it (401)', async () => {
      const token = api.token!;
      const last = token.endsWith('A') ? 'B' : 'A';
      for (const wrong of [`${token.slice(0, -1)}${last}`, token.slice(0, -1), `${token}A`]) {
        expect4xx(await new Api(api.url, wrong).call('GET', '/sandboxes'), 'UNAUTHORIZED');
      }
    });
  });

  describe('sandbox ids', () => {
    for (const id of ['-x', 'x-', 'www', 'API', 'a'.repeat(64), '', 'has space', 'dot/slash']) {
      it(`refuses to create ${JSON.stringify(id.length > 20 ? `${id.slice(0, 10)}…(${id.length})` : id)}`, async () => {
        expect4xx(await api.call('POST', '/sandboxes', { id }), 'INVALID_SANDBOX_ID');
      });
    }
    it('refuses a bad id in a path', async () => {
      expect4xx(await api.call('GET', '/sandboxes/-x'), 'INVALID_SANDBOX_ID');
      expect4xx(await api.call('POST', `/sandboxes/${'a'.repeat(64)}/exec`, { command: 'true' }), 'INVALID_SANDBOX_ID');
    });
    it('answers 404 for a sandbox that was never created, and does not create it', async () => {
      expect4xx(await api.call('GET', '/sandboxes/never-made'), 'SANDBOX_NOT_FOUND');
      expect4xx(await api.call('POST', '/sandboxes/never-made/exec', { command: 'true' }), 'SANDBOX_NOT_FOUND');
      const list = await api.ok('GET', '/sandboxes');
      assert.ok(!list.sandboxes.some((s: any) => s.id === 'never-made'));
    });
    it('normalizes uppercase ids when asked', async () => {
      const r = await api.call('POST', '/sandboxes', { id: 'MixedCase-Box', normalizeId: true });
      assert.equal(r.status, 201);
      assert.equal(r.body.id, 'mixedcase-box');
      await api.ok('DELETE', '/sandboxes/mixedcase-box');
    });
  });

  describe('bodies', () => {
    it('refuses a body that is not JSON', async () => {
      expect4xx(await api.call('POST', '/sandboxes', '{not json', { 'content-type': 'application/json' }), 'INVALID_JSON');
      expect4xx(await api.call('POST', `${base}/exec`, 'rm -rf /'), 'INVALID_JSON');
    });
    it('refuses JSON that is not an object', async () => {
      expect4xx(await api.call('POST', `${base}/processes`, [1, 2]), 'INVALID_JSON');
      expect4xx(await api.call('POST', `${base}/processes`, 'null'), 'INVALID_JSON');
    });
    it('refuses a 20 MB body with 413 and keeps serving', async () => {
      const big = 'x'.repeat(20 * 1024 * 1024);
      const r = await api.call('POST', `${base}/exec`, JSON.stringify({ command: big }), { 'content-type': 'application/json' });
      assert.equal(r.status, 413);
      assert.equal(r.body.code, 'BODY_TOO_LARGE');
      const still = await api.ok('POST', `${base}/exec`, { command: 'echo alive' });
      assert.equal(still.stdout, 'alive\n');
    });
    it('refuses missing or mistyped fields, naming the field', async () => {
      expect4xx(await api.call('POST', `${base}/processes`, {}), 'INVALID_REQUEST', /'command'/);
      expect4xx(await api.call('POST', `${base}/exec`, { command: 42 }), 'INVALID_REQUEST', /'command'/);
      expect4xx(await api.call('POST', `${base}/exec`, { command: 'true', env: { A: 1 } }), 'INVALID_REQUEST', /env\.A/);
      expect4xx(await api.call('POST', `${base}/exec`, { command: 'true', timeout: -5 }), 'INVALID_REQUEST', /'timeout'/);
      expect4xx(await api.call('POST', `${base}/processes`, { command: 'true', processId: '../x' }), 'INVALID_PROCESS_ID');
    });
    it("answers in the agent's words: one set of request parsers on both sides (test/agent/http-edge.test.ts)", async () => {
      expect4xx(
        await api.call('POST', `${base}/exec`, { command: 'true', timeout: 1.5 }),
        'INVALID_REQUEST',
        /^Field 'timeout' must be a whole number of milliseconds from 1 to 3600000 \(got 1\.5\)$/,
      );
      expect4xx(
        await api.call('POST', `${base}/exec`, { command: 'true', timeout: 7_200_000 }),
        'INVALID_REQUEST',
        /^Field 'timeout' must be a whole number of milliseconds from 1 to 3600000/,
      );
      expect4xx(
        await api.call('POST', `${base}/processes`, { command: 'x', env: { 'A-B': 'x' } }),
        'INVALID_REQUEST',
        /^Field 'env\.A-B' must be named like an environment variable/,
      );
      expect4xx(await api.call('POST', `${base}/exec`, { command: '   ' }), 'INVALID_REQUEST', /^Field 'command' must not be blank/);
    });
  });

  describe('ports', () => {
    for (const port of [0, 70000, 8080.5, 'abc', -1, null]) {
      it(`refuses wait-for-port on port ${JSON.stringify(port)}`, async () => {
        expect4xx(await api.call('POST', `${base}/processes/${pid}/wait-for-port`, { port, timeout: 1000 }), 'INVALID_PORT', /Invalid port number/);
      });
    }
    it('refuses a bad readiness mode, path and status', async () => {
      expect4xx(await api.call('POST', `${base}/processes/${pid}/wait-for-port`, { port: 8000, mode: 'udp' }), 'INVALID_REQUEST', /'mode'/);
      expect4xx(await api.call('POST', `${base}/processes/${pid}/wait-for-port`, { port: 8000, path: 'no-slash' }), 'INVALID_REQUEST', /'path'/);
      expect4xx(await api.call('POST', `${base}/processes/${pid}/wait-for-port`, { port: 8000, status: { min: 500, max: 200 } }), 'INVALID_REQUEST', /'status'/);
    });
  });

  describe('processes', () => {
    it('answers 404 for unknown process ids on every process route', async () => {
      expect4xx(await api.call('GET', `${base}/processes/nope`), 'PROCESS_NOT_FOUND');
      expect4xx(await api.call('DELETE', `${base}/processes/nope`), 'PROCESS_NOT_FOUND');
      expect4xx(await api.call('GET', `${base}/processes/nope/logs`), 'PROCESS_NOT_FOUND');
      expect4xx(await api.call('POST', `${base}/processes/nope/wait-for-log`, { pattern: 'x', timeout: 100 }), 'PROCESS_NOT_FOUND');
      expect4xx(await api.call('POST', `${base}/processes/nope/wait-for-port`, { port: 8000, timeout: 100 }), 'PROCESS_NOT_FOUND');
    });
    it('refuses an unknown signal', async () => {
      expect4xx(await api.call('DELETE', `${base}/processes/${pid}?signal=SIGBOGUS`), 'INVALID_SIGNAL');
    });
    it('refuses an invalid regular expression', async () => {
      expect4xx(await api.call('POST', `${base}/processes/${pid}/wait-for-log`, { pattern: '([', regex: true, timeout: 100 }), 'INVALID_PATTERN');
    });
  });

  describe('ports, tickets and tunnels', () => {
    it('refuses bad exposePort bodies and ports in paths', async () => {
      expect4xx(await api.call('POST', `${base}/ports`, '{oops', { 'content-type': 'application/json' }), 'INVALID_JSON');
      expect4xx(await api.call('POST', `${base}/ports`, {}), 'INVALID_PORT', /^Field 'port' is missing/);
      expect4xx(await api.call('POST', `${base}/ports`, { prot: 8080 }), 'INVALID_PORT', /^Field 'port' is missing/);
      expect4xx(await api.call('POST', `${base}/ports`, { port: '8080; rm -rf /' }), 'INVALID_PORT');
      expect4xx(await api.call('POST', `${base}/ports`, { port: 8080, hostname: 'a'.repeat(300) }), 'INVALID_HOSTNAME');
      expect4xx(await api.call('POST', `${base}/ports`, { port: 8080, hostname: 'exa mple.com' }), 'INVALID_HOSTNAME');
      expect4xx(await api.call('DELETE', `${base}/ports/abc`), 'INVALID_PORT');
      expect4xx(await api.call('DELETE', `${base}/ports/3000`), 'RESERVED_PORT');
      expect4xx(await api.call('POST', `${base}/ports/0/ticket`), 'INVALID_PORT');
      expect4xx(await api.call('POST', `${base}/ports/41234/ticket`), 'NOT_FOUND');
      expect4xx(await api.call('PUT', `${base}/tunnels/70000`), 'INVALID_PORT');
      expect4xx(await api.call('DELETE', `${base}/tunnels/8080.5`), 'INVALID_PORT');
    });

    it('refuses a 20 MB exposePort body', async () => {
      const r = await api.call('POST', `${base}/ports`, JSON.stringify({ port: 8080, name: 'x'.repeat(20 * 1024 * 1024) }), { 'content-type': 'application/json' });
      assert.equal(r.status, 413);
    });
  });

  describe('hosts', () => {
    // Hosts that look like preview hosts but name nothing real, or nothing at all.
    for (const host of [
      '99999-a-b.localhost',
      '8080-www-token.localhost',
      '8080--x.localhost',
      `8080-${'a'.repeat(70)}-t.localhost`,
      '8080-box-TOKEN.localhost',
      '1-a-b.localhost',
    ]) {
      it(`answers a JSON error for the host ${host.length > 30 ? `${host.slice(0, 24)}…` : host}`, async () => {
        const r = await fetchWithHost(host);
        assert.ok(r.status === 404, `status ${r.status}`);
        assert.equal(typeof r.body.error, 'string');
      });
    }
    it('keeps the API on plain hosts', async () => {
      const r = await fetchWithHost(`127.0.0.1:${new URL(api.url).port}`, '/api/v1/health');
      assert.equal(r.status, 200);
    });
  });

  describe('routes', () => {
    it('answers 404 for an unknown route and 405 for a wrong method', async () => {
      expect4xx(await api.call('GET', '/nope'), 'NOT_FOUND');
      expect4xx(await api.call('PATCH', `${base}/exec`, {}), 'METHOD_NOT_ALLOWED');
    });
    it('refuses a file route without a path', async () => {
      expect4xx(await api.call('GET', `${base}/files`), 'INVALID_REQUEST', /'path'/);
    });
  });

  it('keeps serving after the whole sweep, with state intact', async () => {
    const info = await api.ok('GET', `${base}/processes/${pid}`);
    assert.equal(info.status, 'running');
    assert.equal((await api.ok('GET', '/health')).ok, true);
  });
});
