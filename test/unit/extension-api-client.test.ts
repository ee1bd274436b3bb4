import assert from 'node:assert/strict';
import { ApiClient, isMissingRoute, normaliseWorkerUrl } from '../../extension/core/api-client';
import { ErrorCode, SandboxError } from '../../worker/protocol/index';

interface Call {
  url: string;
  init: RequestInit;
}

function recording(respond: (call: Call) => Response | Promise<Response>): { client: ApiClient; calls: Call[] } {
  const calls: Call[] = [];
  const client = new ApiClient({
    url: 'http://127.0.0.1:8787/',
    token: 'secret',
    fetch: async (url, init = {}) => {
      const call = { url, init };
      calls.push(call);
      return respond(call);
    },
  });
  return { client, calls };
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('ApiClient', () => {
  describe('requests', () => {
    it('sends the bearer token and JSON to /api/v1 routes', async () => {
      const { client, calls } = recording(() => json(200, { url: 'http://8080-box-tok.localhost:8787/', port: 8080 }));
      await client.exposePort('my-box', { port: 8080, name: 'web', visibility: 'private' });
      assert.equal(calls[0]!.url, 'http://127.0.0.1:8787/api/v1/sandboxes/my-box/ports');
      assert.equal(calls[0]!.init.method, 'POST');
      const headers = calls[0]!.init.headers as Record<string, string>;
      assert.equal(headers.authorization, 'Bearer secret');
      assert.equal(headers['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(calls[0]!.init.body as string), { port: 8080, name: 'web', visibility: 'private' });
    });

    it('unwraps list answers and accepts an empty 204 body', async () => {
      const { client, calls } = recording((call) => (call.init.method === 'DELETE' ? new Response(null, { status: 204 }) : json(200, { sandboxes: [{ id: 'a' }] })));
      assert.deepEqual(await client.listSandboxes(), [{ id: 'a' }]);
      await client.unexposePort('a', 8080);
      await client.killProcess('a', 'p 1', 'SIGKILL');
      assert.equal(calls[2]!.url, 'http://127.0.0.1:8787/api/v1/sandboxes/a/processes/p%201?signal=SIGKILL');
    });

    it('sends Last-Event-ID when resuming a stream', async () => {
      const { client, calls } = recording(() => new Response('event: hello\ndata: {}\n\n', { status: 200 }));
      await client.openStream('/events', '41', new AbortController().signal);
      assert.equal((calls[0]!.init.headers as Record<string, string>)['last-event-id'], '41');
    });
  });

  describe('errors', () => {
    it('turns an error body into a SandboxError with its code', async () => {
      const { client } = recording(() => json(409, { error: "Token 'x' is already in use by port 8081", code: 'TOKEN_CONFLICT' }));
      await assert.rejects(client.exposePort('a', { port: 8080, token: 'x' }), (err: unknown) => {
        assert.ok(err instanceof SandboxError);
        assert.equal(err.code, ErrorCode.TOKEN_CONFLICT);
        assert.match(err.message, /already in use/);
        return true;
      });
    });

    it('reports a non-JSON failure with the status and route', async () => {
      const { client } = recording(() => new Response('Bad gateway', { status: 502 }));
      await assert.rejects(client.listSandboxes(), /GET \/api\/v1\/sandboxes answered 502: Bad gateway/);
    });

    it('says the Worker cannot be reached when fetch fails', async () => {
      const { client } = recording(() => {
        throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
      });
      await assert.rejects(
        client.health(),
        (err: unknown) => err instanceof SandboxError && /Cannot reach the Worker at http:\/\/127.0.0.1:8787 \(ECONNREFUSED\)/.test(err.message),
      );
    });

    it('recognises a missing route (an older Worker) apart from a missing sandbox', async () => {
      const { client } = recording(() => json(404, { error: 'No such API route: PUT /api/v1/sandboxes/a/tunnels/8080', code: 'NOT_FOUND' }));
      const err = await client.createTunnel('a', 8080).catch((e: unknown) => e);
      assert.ok(isMissingRoute(err));
      assert.ok(!isMissingRoute(new SandboxError(ErrorCode.SANDBOX_NOT_FOUND, 'Sandbox a not found')));
    });
  });

  describe('normaliseWorkerUrl', () => {
    it('keeps only the origin and tolerates /api/v1, slashes and a missing scheme', () => {
      assert.equal(normaliseWorkerUrl('http://127.0.0.1:8787/api/v1/'), 'http://127.0.0.1:8787');
      assert.equal(normaliseWorkerUrl('  localhost:8787 '), 'http://localhost:8787');
      assert.equal(normaliseWorkerUrl('https://w.example.com/base/'), 'https://w.example.com/base');
    });
  });
});
