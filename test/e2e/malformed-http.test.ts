import assert from 'node:assert/strict';
import { Api } from '../helpers/api';
import { RawConnection, type RawResponse } from '../helpers/raw-http';
import { startEcho } from '../helpers/services';
import { sharedStack, type Stack } from '../helpers/stack';

/**
 * Requests no HTTP client would send, over raw sockets, against the Worker as `npm start` runs it
 * (plain workerd). Each gets a clean answer — a 4xx JSON error from the Worker, or workerd's own
 * bare refusal before the Worker runs — never a stack trace or a local path, and the connection
 * either serves the next request correctly or is closed: it never answers it wrongly.
 */
describe("malformed HTTP on the Worker's port (raw sockets)", function () {
  this.timeout(60000);
  let stack: Stack;
  let api: Api;
  let previewHost: string;
  const box = `raw-${Date.now().toString(36)}`;

  before(async function () {
    this.timeout(120000);
    stack = await sharedStack();
    api = new Api(stack.url, stack.token);
    await api.ok('POST', '/sandboxes', { id: box });
    const echo = await startEcho(api, box);
    previewHost = new URL((await api.ok('POST', `/sandboxes/${box}/ports`, { port: echo.port })).url).host;
  });

  after(async () => {
    await api.call('DELETE', `/sandboxes/${box}`);
  });

  const host = () => `127.0.0.1:${stack.port}`;
  const auth = () => `Authorization: Bearer ${stack.token}\r\n`;
  const health = () => `GET /api/v1/health HTTP/1.1\r\nHost: ${host()}\r\n\r\n`;

  /** Nothing in an answer may show how the server is built or where it lives. */
  function assertClean(r: RawResponse) {
    const all = `${r.head}\n${r.body}`;
    assert.doesNotMatch(all, /\bat .*\.(ts|js|mjs):\d+|node_modules|\/work\/|\/tmp\/|\/root\/|workerd\/|\.c\+\+|Error: /, `leaks internals: ${all.slice(0, 400)}`);
  }

  function assertWorkerRefusal(r: RawResponse, code?: string) {
    assert.ok(r.status >= 400 && r.status < 500, `expected 4xx, got ${r.status}: ${r.body.slice(0, 300)}`);
    const body = JSON.parse(r.body);
    assert.equal(typeof body.error, 'string');
    if (code) assert.equal(body.code, code, body.error);
  }

  /**
   * A Host no URL can hold is refused by workerd itself, before any Worker code runs: a bare
   * answer with no details, and the connection closed.
   */
  function assertRuntimeRefusal(r: RawResponse, conn: RawConnection) {
    assert.ok(r.status === 400 || r.status === 500, `expected workerd's own refusal, got ${r.status}: ${r.body}`);
    assert.ok(r.body.length < 40, `a bare refusal, not a page: ${r.body}`);
    assert.equal(r.headers.connection, 'close');
    return conn.closes();
  }

  /** After the bad request: the same connection answers health correctly, or it is closed. */
  async function nextRequestIsSafe(conn: RawConnection) {
    if (!conn.closed) {
      conn.write(health());
      const r = await conn.response();
      if (r) {
        assert.equal(r.status, 200, `the next request on the connection: ${r.status} ${r.body}`);
        assert.equal(JSON.parse(r.body).ok, true);
      }
    }
    conn.destroy();
    // And a fresh connection is served as ever.
    const fresh = new RawConnection(stack.port);
    fresh.write(health());
    const r = await fresh.response();
    fresh.destroy();
    assert.equal(r?.status, 200);
  }

  async function send(bytes: string): Promise<{ conn: RawConnection; r: RawResponse | null }> {
    const conn = new RawConnection(stack.port);
    conn.write(bytes);
    return { conn, r: await conn.response() };
  }

  for (const [what, hostLines] of [
    ['a duplicate Host', (h: string) => `Host: ${h}\r\nHost: evil.example\r\n`],
    ['a Host with a port above 65535', () => 'Host: 127.0.0.1:99999\r\n'],
    ['a Host with a non-numeric port', () => 'Host: 127.0.0.1:abc\r\n'],
    ['a Host with a space', () => 'Host: a b.localhost\r\n'],
  ] as const) {
    it(`refuses ${what} before any Worker code runs`, async () => {
      const { conn, r } = await send(`GET /api/v1/health HTTP/1.1\r\n${hostLines(host())}\r\n`);
      assert.ok(r, 'an answer, not a silent close');
      assertClean(r);
      assert.ok(await assertRuntimeRefusal(r, conn), 'the connection closes');
      await nextRequestIsSafe(conn);
    });
  }

  it('answers a preview Host with quotes with a 4xx JSON error', async () => {
    const { conn, r } = await send('GET / HTTP/1.1\r\nHost: "8000-box-tok".localhost\r\n\r\n');
    assert.ok(r);
    assertClean(r);
    assertWorkerRefusal(r);
    await nextRequestIsSafe(conn);
  });

  it('refuses obs-fold (a header continued on the next line) with 400', async () => {
    const { conn, r } = await send(`GET /api/v1/health HTTP/1.1\r\nHost: ${host()}\r\nX-A: b\r\n c\r\n\r\n`);
    assert.ok(r);
    assertClean(r);
    assert.equal(r.status, 400);
    await nextRequestIsSafe(conn);
  });

  it('refuses a missing or empty Host with 400', async () => {
    for (const hostLine of ['', 'Host: \r\n']) {
      const { conn, r } = await send(`GET /api/v1/health HTTP/1.1\r\n${hostLine}\r\n`);
      assert.ok(r);
      assertClean(r);
      assert.equal(r.status, 400);
      await nextRequestIsSafe(conn);
    }
  });

  it('serves chunked GET and DELETE with and without bodies, and keeps the connection in step', async () => {
    const cases = [
      `GET /api/v1/health HTTP/1.1\r\nHost: ${host()}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
      `GET /api/v1/health HTTP/1.1\r\nHost: ${host()}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      `DELETE /api/v1/sandboxes/no-such-box HTTP/1.1\r\nHost: ${host()}\r\n${auth()}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
      `DELETE /api/v1/sandboxes/no-such-box HTTP/1.1\r\nHost: ${host()}\r\n${auth()}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      `DELETE /api/v1/sandboxes/no-such-box HTTP/1.1\r\nHost: ${host()}\r\n${auth()}Content-Length: 5\r\n\r\nhello`,
    ];
    for (const bytes of cases) {
      const { conn, r } = await send(bytes);
      assert.ok(r);
      assertClean(r);
      if (bytes.startsWith('GET')) assert.equal(r.status, 200);
      else assertWorkerRefusal(r, 'SANDBOX_NOT_FOUND');
      assert.equal(conn.closed, false, 'a well-formed request keeps the connection');
      await nextRequestIsSafe(conn);
    }
  });

  for (const [what, size] of [
    ['a chunk size that is not hex', 'zz'],
    ['a chunk size too large for any integer', 'ffffffffffffffffffff'],
    ['a negative chunk size', '-5'],
  ] as const) {
    it(`refuses ${what} in a control-API body with a 4xx, never a 500`, async () => {
      const { conn, r } = await send(
        `POST /api/v1/sandboxes HTTP/1.1\r\nHost: ${host()}\r\n${auth()}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${size}\r\n{"id":"zz-never"}\r\n0\r\n\r\n`,
      );
      if (r) {
        assertClean(r);
        assertWorkerRefusal(r);
      }
      await nextRequestIsSafe(conn);
      // The broken body created nothing.
      assert.equal((await api.call('GET', '/sandboxes/zz-never')).status, 404);
    });

    it(`refuses ${what} in a body sent to a preview URL with a 4xx, never a 5xx`, async () => {
      const { conn, r } = await send(`POST /echo HTTP/1.1\r\nHost: ${previewHost}\r\nTransfer-Encoding: chunked\r\n\r\n${size}\r\nhello\r\n0\r\n\r\n`);
      if (r) {
        assertClean(r);
        assert.ok(r.status >= 400 && r.status < 500, `expected 4xx, got ${r.status}: ${r.body.slice(0, 300)}`);
      }
      await nextRequestIsSafe(conn);
    });
  }

  it('gives a body larger than the limit a 413 the client can read, and keeps serving', async () => {
    const big = 'x'.repeat(3 * 1024 * 1024);
    const { conn, r } = await send(`POST /api/v1/sandboxes HTTP/1.1\r\nHost: ${host()}\r\n${auth()}Content-Type: application/json\r\nContent-Length: ${big.length}\r\n\r\n${big}`);
    assert.ok(r);
    assertWorkerRefusal(r, 'BODY_TOO_LARGE');
    await nextRequestIsSafe(conn);
  });
});
