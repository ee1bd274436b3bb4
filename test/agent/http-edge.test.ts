import assert from 'node:assert/strict';
import { LOCAL_SECRET_HEADER } from '../../worker/protocol/agent';
import { useAgent } from '../helpers/agent-process';

describe('agent › HTTP edge (real agent process)', function () {
  this.timeout(30000);
  const agent = useAgent();
  const api = () => agent().client;

  describe('GET / and GET /health', () => {
    it('answer ok with the sandbox id (the container health check uses /)', async () => {
      assert.deepEqual(await api().ok('GET', '/'), { ok: true, sandboxId: 'test-box' });
      assert.deepEqual(await api().ok('GET', '/health'), { ok: true, sandboxId: 'test-box' });
    });
  });

  describe('bad requests', () => {
    const cases: Array<[string, string, unknown, number, string, RegExp]> = [
      ['POST', '/processes', '{"command": ', 400, 'INVALID_JSON', /not valid JSON/],
      ['POST', '/processes', '[1,2]', 400, 'INVALID_REQUEST', /must be an object/],
      ['POST', '/processes', {}, 400, 'INVALID_REQUEST', /'command'/],
      ['POST', '/processes', { command: 'x', env: { A: 1 } }, 400, 'INVALID_REQUEST', /'env.A'/],
      ['POST', '/exec', { command: 'true', timeout: -5 }, 400, 'INVALID_REQUEST', /'timeout'/],
      ['GET', '/processes/unknown', undefined, 404, 'PROCESS_NOT_FOUND', /'unknown' not found/],
      ['POST', '/processes/unknown/wait-for-port', { port: 8080 }, 404, 'PROCESS_NOT_FOUND', /unknown/],
      ['GET', '/nowhere', undefined, 404, 'NOT_FOUND', /No route for GET \/nowhere/],
      ['PUT', '/processes', undefined, 405, 'METHOD_NOT_ALLOWED', /allowed: POST, GET, DELETE/],
      ['POST', '/health', undefined, 405, 'METHOD_NOT_ALLOWED', /not allowed/],
      ['POST', '/mkdir', { path: 5 }, 400, 'INVALID_REQUEST', /'path'/],
      // The Durable Object's words for the same bodies (test/e2e/bad-input.test.ts): one set of parsers.
      ['POST', '/exec', { command: 'true', timeout: 1.5 }, 400, 'INVALID_REQUEST', /^Field 'timeout' must be a whole number of milliseconds from 1 to 3600000 \(got 1\.5\)$/],
      ['POST', '/exec', { command: 'true', timeout: 7_200_000 }, 400, 'INVALID_REQUEST', /^Field 'timeout' must be a whole number of milliseconds from 1 to 3600000/],
      ['POST', '/processes', { command: 'x', env: { 'A-B': 'x' } }, 400, 'INVALID_REQUEST', /^Field 'env\.A-B' must be named like an environment variable/],
      ['POST', '/exec', { command: '   ' }, 400, 'INVALID_REQUEST', /^Field 'command' must not be blank/],
    ];
    for (const [method, url, body, status, code, message] of cases) {
      it(`${method} ${url} with ${JSON.stringify(body) ?? 'no body'} → ${status} ${code}`, async () => {
        const r = await api().call(method, url, body);
        assert.equal(r.status, status);
        assert.equal(r.body.code, code);
        assert.match(r.body.error, message);
      });
    }

    it('refuses a JSON body over 1 MiB with 413 BODY_TOO_LARGE', async () => {
      const r = await api().call('POST', '/processes', { command: 'x'.repeat(1024 * 1024 + 10) });
      assert.equal(r.status, 413);
      assert.equal(r.body.code, 'BODY_TOO_LARGE');
    });

    it('refuses a streamed (chunked) body over the limit with 413 as well', async () => {
      const chunk = new Uint8Array(64 * 1024).fill(97);
      let sent = 0;
      const body = new ReadableStream({
        pull(controller) {
          if (sent >= 2 * 1024 * 1024) return controller.close();
          sent += chunk.length;
          controller.enqueue(chunk);
        },
      });
      const headers = { [LOCAL_SECRET_HEADER]: agent().secret, 'content-type': 'application/json' };
      const res = await fetch(`${api().base}/processes`, { method: 'POST', body, headers, duplex: 'half' } as RequestInit);
      assert.equal(res.status, 413);
      assert.equal(((await res.json()) as { code: string }).code, 'BODY_TOO_LARGE');
    });

    it('keeps serving after all of the above', async () => {
      assert.equal((await api().call('GET', '/health')).status, 200);
      assert.doesNotMatch(agent().output(), /uncaught|unexpected error/);
    });
  });
});
