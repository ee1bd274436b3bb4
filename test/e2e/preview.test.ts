import assert from 'node:assert/strict';
import { Api } from '../helpers/api';
import { previewRequest } from '../helpers/preview-client';
import { startEcho } from '../helpers/services';
import { sharedStack, type Stack } from '../helpers/stack';

/** exposePort rules (SPEC 2.3) and the proxy's answers, against the real Worker and services. */
describe('preview URLs › exposePort and the proxy', function () {
  this.timeout(60000);
  let stack: Stack;
  let api: Api;
  const box = `pv-${Date.now().toString(36)}`;
  let echo: { port: number };

  before(async function () {
    this.timeout(120000);
    stack = await sharedStack();
    api = new Api(stack.url, stack.token);
    await api.ok('POST', '/sandboxes', { id: box });
    echo = await startEcho(api, box);
  });

  const expose = (body: Record<string, unknown>, id = box) => api.call('POST', `/sandboxes/${id}/ports`, body);

  it('exposes a port: a local URL keeps http and the port, with a 16-character generated token', async () => {
    const r = await expose({ port: echo.port, name: 'echo' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const m = new RegExp(`^http://${echo.port}-${box}-([a-z0-9]{16})\\.localhost:${stack.port}/$`).exec(r.body.url);
    assert.ok(m, r.body.url);
    assert.equal(r.body.exposedAt, r.body.url);
    assert.equal(r.body.port, echo.port);
    assert.equal(r.body.name, 'echo');
    const page = await previewRequest(`${r.body.url}echo?x=1`);
    assert.equal(page.status, 200, page.text);
    assert.equal(page.json().url, '/echo?x=1');
  });

  it('formats a production hostname as https without a port', async () => {
    const other = await expose({ port: echo.port + 1 > 65535 ? 1025 : echo.port + 1, hostname: 'Example.COM', token: 'prod' });
    assert.match(other.body.url, /^https:\/\/\d+-pv-[a-z0-9]+-prod\.example\.com\/$/);
    await api.call('DELETE', `/sandboxes/${box}/ports/${other.body.port}`);
  });

  it('re-exposing with the same options returns the same URL; a new token kills the old URL at once', async () => {
    const a = await expose({ port: echo.port, name: 'echo' });
    const b = await expose({ port: echo.port, name: 'echo' });
    assert.equal(a.body.url, b.body.url);
    const custom = await expose({ port: echo.port, token: 'api-v1' });
    assert.match(custom.body.url, new RegExp(`^http://${echo.port}-${box}-api-v1\\.localhost:`));
    assert.equal((await previewRequest(`${a.body.url}echo`)).status, 404);
    const via = await previewRequest(`${custom.body.url}echo`);
    assert.equal(via.status, 200, via.text);
    // A hyphenated sandbox id and a hyphenated token still route to the right sandbox.
    assert.ok(box.includes('-'));
  });

  it('routes 8080-my-box-api-v1.example.com to sandbox my-box, token api-v1 (a production host)', async () => {
    await api.ok('POST', '/sandboxes', { id: 'my-box' });
    const svc = await startEcho(api, 'my-box');
    // Decoys whose splits would also parse: sandbox 'my' and a token 'v1' on sandbox 'my-box-api'.
    await api.ok('POST', '/sandboxes', { id: 'my' });
    const r = await expose({ port: svc.port, hostname: 'example.com', token: 'api-v1' }, 'my-box');
    assert.equal(r.body.url, `https://${svc.port}-my-box-api-v1.example.com/`);
    const page = await previewRequest(`http://127.0.0.1:${stack.port}/echo`, { headers: { host: `${svc.port}-my-box-api-v1.example.com` } });
    assert.equal(page.status, 200, page.text);
    assert.equal(page.json().headers['x-forwarded-host'], `${svc.port}-my-box-api-v1.example.com`);
    await api.ok('DELETE', '/sandboxes/my');
    await api.ok('DELETE', '/sandboxes/my-box');
  });

  it('generates a different token for every exposure', async () => {
    const a = await expose({ port: 40001 });
    const b = await expose({ port: 40002 });
    const ta = /-([a-z0-9]{16})\./.exec(a.body.url)![1];
    const tb = /-([a-z0-9]{16})\./.exec(b.body.url)![1];
    assert.notEqual(ta, tb);
    await api.call('DELETE', `/sandboxes/${box}/ports/40001`);
    await api.call('DELETE', `/sandboxes/${box}/ports/40002`);
  });

  it('refuses a custom token another port uses', async () => {
    await expose({ port: 40003, token: 'taken' });
    const r = await expose({ port: 40004, token: 'taken' });
    assert.equal(r.status, 409);
    assert.equal(r.body.code, 'TOKEN_CONFLICT');
    assert.equal(r.body.error, "Token 'taken' is already in use by port 40003");
    await api.call('DELETE', `/sandboxes/${box}/ports/40003`);
  });

  it('refuses bad ports with the SPEC messages', async () => {
    for (const [port, message] of [
      [1023, 'Invalid port number: 1023. Must be 1024-65535'],
      [65536, 'Invalid port number: 65536. Must be 1024-65535'],
      [8080.5, 'Invalid port number: 8080.5. Must be 1024-65535'],
      ['abc', 'Invalid port number: abc. Must be 1024-65535'],
    ] as const) {
      const r = await expose({ port });
      assert.equal(r.status, 400);
      assert.equal(r.body.error, message);
    }
    const reserved = await expose({ port: 3000 });
    assert.equal(reserved.status, 400);
    assert.match(reserved.body.error, /Port 3000 is reserved/);
  });

  it('refuses .workers.dev, malformed hostnames and bad tokens, ttl and visibility', async () => {
    const wd = await expose({ port: 40005, hostname: 'my-worker.acct.workers.dev' });
    assert.equal(wd.status, 400);
    assert.match(wd.body.error, /workers\.dev/);
    for (const body of [
      { port: 40005, hostname: 'http://example.com/x' },
      { port: 40005, token: 'UPPER' },
      { port: 40005, token: 'x'.repeat(17) },
      { port: 40005, token: 'a.b' },
      { port: 40005, ttl: 'soon' },
      { port: 40005, ttl: -5 },
      { port: 40005, visibility: 'secret' },
      { port: 40005, name: 42 },
    ]) {
      const r = await expose(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(typeof r.body.error, 'string');
    }
  });

  it('refuses uppercase ids with the fix in the message, and accepts them normalized', async () => {
    await api.ok('POST', '/sandboxes', { id: 'Upper-Box' });
    const r = await expose({ port: 40006 }, 'Upper-Box');
    assert.equal(r.status, 400);
    assert.match(r.body.error, /^Preview URLs require lowercase sandbox IDs/);
    assert.match(r.body.error, /normalizeId: true/);
    await api.ok('DELETE', '/sandboxes/Upper-Box');
  });

  it('checks the whole {port}-{id}-{token} label against 63 characters', async () => {
    const longId = `l${'x'.repeat(40)}`;
    await api.ok('POST', '/sandboxes', { id: longId });
    const r = await expose({ port: 40007 }, longId);
    assert.equal(r.status, 400);
    assert.match(r.body.error, /63/);
    await api.ok('DELETE', `/sandboxes/${longId}`);
  });

  it('answers the same 404 INVALID_TOKEN for an unknown sandbox, an unexposed port and a wrong token', async () => {
    const good = (await expose({ port: echo.port, token: 'api-v1' })).body.url as string;
    const host = (u: string) => new URL(u).host;
    const bad = [good.replace(box, 'nobody-here'), good.replace(`${echo.port}-`, '40999-'), good.replace('api-v1', 'api-v2')];
    const answers = await Promise.all(bad.map((u) => previewRequest(`${u}echo`)));
    for (const a of answers) {
      assert.equal(a.status, 404);
      assert.deepEqual(a.json(), answers[0]!.json());
      assert.equal(a.json().code, 'INVALID_TOKEN');
    }
    assert.notEqual(host(bad[0]!), host(good));
  });

  it('decides a token by all of its characters: truncated, extended or changed at the end, 404 (an id with a single split)', async () => {
    // No '-' in the id: the host has one split, so the Durable Object's own comparison decides.
    const single = `pvsingle${Date.now().toString(36)}`;
    await api.ok('POST', '/sandboxes', { id: single });
    const service = await startEcho(api, single);
    const good = (await expose({ port: service.port }, single)).body.url as string;
    const token = new URL(good).hostname.split('.')[0]!.split('-').pop()!;
    assert.equal((await previewRequest(`${good}echo`)).status, 200);
    const last = token.slice(-1) === 'a' ? 'b' : 'a';
    for (const wrong of [token.slice(0, -1), `${token}x`.slice(0, 16) === token ? `${token.slice(0, -1)}${last}` : `${token}x`, `${token.slice(0, -1)}${last}`]) {
      const r = await previewRequest(`${good.replace(token, wrong)}echo`);
      assert.equal(r.status, 404, wrong);
      assert.equal(r.json().code, 'INVALID_TOKEN');
    }
    await api.ok('DELETE', `/sandboxes/${single}`);
  });

  it('unexposes at once (idempotent), and closePort is the same', async () => {
    const url = (await expose({ port: echo.port, token: 'api-v1' })).body.url as string;
    assert.equal((await api.call('DELETE', `/sandboxes/${box}/ports/${echo.port}`)).status, 204);
    assert.equal((await previewRequest(`${url}echo`)).status, 404);
    assert.equal((await api.call('DELETE', `/sandboxes/${box}/ports/${echo.port}`)).status, 204);
    const list = await api.ok('GET', `/sandboxes/${box}/ports`);
    assert.ok(!list.ports.some((p: any) => p.port === echo.port));
  });

  it('lists exposed ports sorted, with count', async () => {
    await expose({ port: 40020, name: 'b' });
    await expose({ port: 40010, name: 'a', visibility: 'private' });
    const list = await api.ok('GET', `/sandboxes/${box}/ports`);
    const ports = list.ports.map((p: any) => p.port);
    assert.deepEqual(
      ports,
      [...ports].sort((a: number, b: number) => a - b),
    );
    assert.equal(list.count, list.ports.length);
    const a = list.ports.find((p: any) => p.port === 40010);
    assert.equal(a.visibility, 'private');
    assert.equal(a.name, 'a');
    assert.ok(a.createdAt);
    await api.call('DELETE', `/sandboxes/${box}/ports/40010`);
    await api.call('DELETE', `/sandboxes/${box}/ports/40020`);
  });

  it('ends an exposure when its ttl is up', async function () {
    this.timeout(30000);
    const stream = await api.stream('/events');
    await stream.waitFor((m) => m.event === 'hello');
    const r = await expose({ port: echo.port, token: 'short', ttl: '2s' });
    assert.ok(r.body.expiresAt);
    assert.equal((await previewRequest(`${r.body.url}echo`)).status, 200);
    await stream.waitFor((m) => m.event === 'change' && JSON.parse(m.data).type === 'port-expired' && JSON.parse(m.data).port === echo.port, 20000);
    stream.close();
    assert.ok(Date.now() >= Date.parse(r.body.expiresAt), 'not before its time');
    assert.equal((await previewRequest(`${r.body.url}echo`)).status, 404);
  });

  it('is not a preview host: the API and other hosts are not proxied', async () => {
    const r = await previewRequest(`http://localhost:${stack.port}/api/v1/health`);
    assert.equal(r.status, 200);
    assert.equal(r.json().ok, true);
  });
});
