import assert from 'node:assert/strict';
import net from 'node:net';
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { Api } from '../helpers/api';
import { freePort, groupRssMb } from '../helpers/net';
import { nextMessage, previewRequest, previewSocket, previewStream } from '../helpers/preview-client';
import { sandboxWithEcho, startEcho } from '../helpers/services';
import { type Stack, hostState } from '../helpers/stack';

/** What passes through a preview URL (SPEC 2.4), over real sockets. */
describe('preview proxy › transport', function () {
  this.timeout(90000);
  let stack: Stack;
  let api: Api;
  let box: string;
  let url: string;
  let port: number;

  before(async function () {
    this.timeout(120000);
    ({ stack, api, box, port } = await sandboxWithEcho('tx'));
    url = (await api.ok('POST', `/sandboxes/${box}/ports`, { port, token: 'tx' })).url;
  });

  for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
    it(`carries ${method} with its body and headers both ways`, async () => {
      const body = method === 'GET' ? undefined : `payload for ${method}`;
      const r = await previewRequest(`${url}echo?m=${method}`, { method, body, headers: { 'x-custom': 'kept', 'content-type': 'text/plain' } });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers['x-echo'], 'yes');
      const echoed = r.json();
      assert.equal(echoed.method, method);
      assert.equal(echoed.headers['x-custom'], 'kept');
      assert.equal(echoed.length, body ? Buffer.byteLength(body) : 0);
    });
  }

  it('answers HEAD with headers and no body', async () => {
    const r = await previewRequest(`${url}echo`, { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-echo'], 'yes');
    assert.equal(r.body.length, 0);
  });

  it('returns redirects as they are, without following them', async () => {
    const r = await previewRequest(`${url}redirect`);
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, '/target');
  });

  it('gives the service Host localhost:{port} and the public host in X-Forwarded-Host, with Proto and For', async () => {
    const echoed = (await previewRequest(`${url}echo`)).json();
    assert.equal(echoed.headers.host, `localhost:${port}`);
    assert.equal(echoed.headers['x-forwarded-host'], new URL(url).host);
    assert.equal(echoed.headers['x-forwarded-proto'], 'http');
    assert.ok(echoed.headers['x-forwarded-for'], JSON.stringify(echoed.headers));
  });

  it('does not let a client forge the address the service sees (X-Forwarded-For, Forwarded, CF-Connecting-IP)', async () => {
    const echoed = (await previewRequest(`${url}echo`, { headers: { 'x-forwarded-for': '6.6.6.6', forwarded: 'for=6.6.6.6', 'cf-connecting-ip': '6.6.6.6' } })).json();
    const chain = String(echoed.headers['x-forwarded-for'] ?? '')
      .split(',')
      .map((s: string) => s.trim());
    assert.notEqual(chain[chain.length - 1], '6.6.6.6', `the last hop is the proxy's own record: ${echoed.headers['x-forwarded-for']}`);
    assert.ok(!String(echoed.headers.forwarded ?? '').includes('6.6.6.6'));
    assert.notEqual(echoed.headers['cf-connecting-ip'], '6.6.6.6');
  });

  it('passes no hop-by-hop header to the service: Connection and the headers it names, Keep-Alive, TE, Trailer, Proxy-Connection, HTTP2-Settings', async () => {
    // Sent raw: Node's client will not send some of these (a Trailer without chunking). workerd's
    // HTTP server removes Connection and the headers it names before the Worker runs (the Worker's
    // stripHopByHop covers a runtime that does not); this holds it either way.
    const host = new URL(url).host;
    const head = [
      'GET /echo HTTP/1.1',
      `Host: ${host}`,
      'Connection: close, X-Hop-Only',
      'X-Hop-Only: for-the-proxy',
      'Proxy-Connection: keep-alive',
      'Keep-Alive: timeout=5',
      'TE: trailers',
      'Trailer: X-Late',
      'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA',
      'X-Kept: yes',
    ].join('\r\n');
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port: stack.port });
      let text = '';
      socket.on('data', (c) => (text += c.toString('latin1')));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
      socket.write(`${head}\r\n\r\n`);
    });
    const [responseHead, ...rest] = raw.split('\r\n\r\n');
    assert.match(responseHead!, /^HTTP\/1\.1 200/);
    let body = rest.join('\r\n\r\n');
    if (/transfer-encoding: chunked/i.test(responseHead!)) {
      let out = '';
      for (let i = 0; ;) {
        const eol = body.indexOf('\r\n', i);
        const size = parseInt(body.slice(i, eol), 16);
        if (!size) break;
        out += body.slice(eol + 2, eol + 2 + size);
        i = eol + 2 + size + 2;
      }
      body = out;
    }
    const echoed = JSON.parse(body);
    for (const h of ['connection', 'x-hop-only', 'proxy-connection', 'keep-alive', 'te', 'trailer', 'http2-settings']) {
      assert.equal(echoed.headers[h], undefined, `${h}: ${JSON.stringify(echoed.headers)}`);
    }
    assert.equal(echoed.headers['x-kept'], 'yes');
  });

  it('answers a browser with a readable HTML page, with the same status and code; JSON for everyone else', async () => {
    const unknown = `http://${port}-nobody-here-tok.localhost:${stack.port}/`;
    const page = await previewRequest(unknown, { headers: { accept: 'text/html,application/xhtml+xml' } });
    assert.equal(page.status, 404);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(page.text, /No preview here/);
    assert.match(page.text, /INVALID_TOKEN/);
    const json = await previewRequest(unknown, { headers: { accept: 'application/json' } });
    assert.equal(json.status, 404);
    assert.equal(json.json().code, 'INVALID_TOKEN');
    // A port with nothing listening: 502 names the port and the 0.0.0.0 rule, as a page too.
    const idle = await api.ok('POST', `/sandboxes/${box}/ports`, { port: 41234, token: 'idle' });
    const bad = await previewRequest(idle.url, { headers: { accept: 'text/html' } });
    assert.equal(bad.status, 502);
    assert.match(bad.text, /SERVICE_UNAVAILABLE/);
    assert.match(bad.text, /41234/);
    assert.match(bad.text, /0\.0\.0\.0/);
    await api.ok('DELETE', `/sandboxes/${box}/ports/41234`);
  });

  it('strips internal routing headers a client sends', async () => {
    const forged = JSON.stringify({ kind: 'preview', port: 3000, token: 'x', host: 'evil', proto: 'http', clientIp: null });
    const r = await previewRequest(`${url}echo`, { headers: { 'x-sandbox-ports-route': forged, 'x-sandbox-ports-miss': '1' } });
    assert.equal(r.status, 200);
    const headers = r.json().headers;
    assert.ok(!Object.keys(headers).some((h) => h.startsWith('x-sandbox-ports-')), JSON.stringify(headers));
    // A forged route on a non-preview host reaches nothing either.
    const api404 = await previewRequest(`http://127.0.0.1:${stack.port}/anything`, { headers: { 'x-sandbox-ports-route': forged } });
    assert.equal(api404.status, 404);
  });

  it('delivers Server-Sent Events one by one as the service sends them', async () => {
    const arrivals: number[] = [];
    let text = '';
    const res = await previewStream(`${url}sse`, (chunk, at) => {
      text += chunk.toString();
      const events = text.split('\n\n').length - 1;
      while (arrivals.length < events) arrivals.push(at);
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/event-stream');
    assert.equal(arrivals.length, 5);
    // The service sends one event every 200 ms, 800 ms from first to last: a buffering proxy would
    // hand them over together at the end. (Not a speed check: a slow machine only spreads them more.)
    const span = arrivals[4]! - arrivals[0]!;
    assert.ok(span > 300, `the first event came ${span.toFixed(0)} ms before the last: buffered`);
  });

  it('echoes WebSocket text and binary frames and passes close codes on', async () => {
    const ws = previewSocket(url.replace('http://', 'ws://'));
    const hello = JSON.parse((await nextMessage(ws)).data.toString());
    assert.equal(hello.host, `localhost:${port}`, 'same Host as plain HTTP');
    assert.equal(hello.forwardedHost, new URL(url).host);
    ws.send('text frame');
    const text = await nextMessage(ws);
    assert.equal(text.isBinary, false);
    assert.equal(text.data.toString(), 'text frame');
    const bytes = crypto.randomBytes(4096);
    ws.send(bytes);
    const bin = await nextMessage(ws);
    assert.equal(bin.isBinary, true);
    assert.ok(bin.data.equals(bytes));
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.send('close:4001');
    const { code, reason } = await closed;
    assert.equal(code, 4001);
    assert.equal(reason, 'bye');
  });

  it('streams a 100 MB upload and a 100 MB download through, intact', async function () {
    this.timeout(120000);
    const size = 100 * 1024 * 1024;
    const block = crypto.randomBytes(1024 * 1024);
    const hash = crypto.createHash('sha256');
    for (let i = 0; i < 100; i++) hash.update(block);
    const expected = hash.digest('hex');
    let sent = 0;
    const upload = new Readable({
      read() {
        this.push(sent < 100 ? block : null);
        sent++;
      },
    });
    // The Worker's processes (wrangler and both workerd) must not hold the body: sample their memory.
    const workerGroup = (stack as unknown as { worker: { pid: number } }).worker.pid;
    const before = groupRssMb(workerGroup);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, groupRssMb(workerGroup))), 50);
    const up = await previewRequest(`${url}upload`, { method: 'POST', body: upload, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(up.status, 200, up.text.slice(0, 300));
    assert.equal(up.json().length, size);
    assert.equal(up.json().sha256, expected);

    let received = 0;
    const down = await previewStream(`${url}download?mb=100`, (chunk) => {
      received += chunk.length;
    });
    assert.equal(down.status, 200);
    assert.equal(received, size);
    clearInterval(sampler);
    assert.ok(peak - before < 60, `the Worker grew by ${(peak - before).toFixed(0)} MB while moving 2 × 100 MB`);
  });

  describe('errors', () => {
    it('502 SERVICE_UNAVAILABLE naming the port when nothing listens', async () => {
      const idle = await freePort();
      const u = (await api.ok('POST', `/sandboxes/${box}/ports`, { port: idle })).url;
      const r = await previewRequest(u);
      assert.equal(r.status, 502);
      assert.equal(r.json().code, 'SERVICE_UNAVAILABLE');
      assert.match(r.json().error, new RegExp(`port ${idle}`));
      assert.match(r.json().error, /0\.0\.0\.0/);
    });

    it('502 saying so when the service listens on 127.0.0.1 only', async () => {
      const local = await startEcho(api, box, { host: '127.0.0.1' });
      const u = (await api.ok('POST', `/sandboxes/${box}/ports`, { port: local.port })).url;
      const r = await previewRequest(u);
      assert.equal(r.status, 502);
      assert.match(r.json().error, /listens on 127\.0\.0\.1 only/);
    });

    it('503 SANDBOX_NOT_RUNNING with Retry-After, without starting the sandbox', async () => {
      const id = `stopped-${Date.now().toString(36)}`;
      await api.ok('POST', '/sandboxes', { id });
      const u = (await api.ok('POST', `/sandboxes/${id}/ports`, { port: 41000, token: 'stop' })).url;
      const host = await hostState(stack, id);
      process.kill(host.pid!, 'SIGKILL');
      const events = await api.stream('/events');
      await events.waitFor((m) => m.event === 'hello');
      await events.waitFor((m) => m.event === 'change' && JSON.parse(m.data).sandboxId === id && JSON.parse(m.data).status === 'stopped').catch(() => {});
      events.close();
      const r = await previewRequest(u);
      assert.equal(r.status, 503);
      assert.equal(r.json().code, 'SANDBOX_NOT_RUNNING');
      assert.ok(Number(r.headers['retry-after']) > 0);
      const state = await hostState(stack, id);
      assert.equal(state.running, false, 'the preview request did not start it');
    });
  });
});
