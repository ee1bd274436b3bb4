/**
 * The traffic inspector (issue 20), end to end: real requests from real clients through preview
 * URLs to a real service in a sandbox, and what the control API says of them.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { Api } from '../helpers/api';
import { eventually } from '../helpers/net';
import { loopbackLookup, nextMessage, previewRequest, previewSocket, previewStream } from '../helpers/preview-client';
import { sandboxWithEcho } from '../helpers/services';
import type { Stack } from '../helpers/stack';

describe('traffic inspector (real Worker, real service, real clients)', function () {
  this.timeout(120000);
  let stack: Stack;
  let api: Api;
  let box: string;
  let port: number;
  let url: string;
  let base: string;
  const list = async (): Promise<any[]> => (await api.ok('GET', `${base}/requests`)).requests;
  /** The newest entry once `n` are kept. */
  const newest = async (n: number): Promise<any> => {
    await eventually(async () => (await list()).length >= n, 10000, `${n} recorded requests`);
    return (await list())[0];
  };

  before(async function () {
    this.timeout(120000);
    ({ stack, api, box, port } = await sandboxWithEcho('inspect'));
    url = (await api.ok('POST', `/sandboxes/${box}/ports`, { port, name: 'echo' })).url;
    base = `/sandboxes/${box}/ports/${port}`;
  });

  it('records a GET and a JSON POST: method, path, status, timing, bytes, headers and bodies', async () => {
    await api.ok('DELETE', `${base}/requests`);
    assert.equal((await previewRequest(`${url}hello?x=1`)).status, 200);
    const body = JSON.stringify({ order: 42, items: ['a', 'b'] });
    const posted = await previewRequest(`${url}orders`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    assert.equal(posted.status, 200);
    const [post, get] = await eventually(async () => (await list()).length === 2, 10000, 'two entries').then(list);
    assert.equal(get.method, 'GET');
    assert.equal(get.path, '/hello?x=1');
    assert.equal(get.status, 200);
    assert.equal(get.answeredBy, 'service');
    assert.ok(get.ttfbMs >= 0 && get.totalMs >= get.ttfbMs);
    assert.equal(get.bytesOut, Buffer.byteLength((await previewRequest(`${url}hello?x=1`)).text));
    assert.ok(post.id > get.id, 'newest first');
    const full = await api.ok('GET', `${base}/requests/${post.id}`);
    assert.deepEqual(full.requestBody, { size: body.length, contentType: 'application/json', truncated: false, kind: 'text', text: body });
    assert.equal(full.responseBody.kind, 'text');
    assert.equal(JSON.parse(full.responseBody.text).method, 'POST', "the service's answer, as it sent it");
    assert.ok(full.requestHeaders.some(([k, v]: [string, string]) => k === 'content-type' && v === 'application/json'));
    assert.ok(full.responseHeaders.some(([k, v]: [string, string]) => k === 'x-echo' && v === 'yes'));
  });

  it('keeps a binary body by size and type, and marks a 1 MB upload truncated at 64 KiB', async () => {
    const bin = crypto.randomBytes(3000);
    await previewRequest(`${url}bin`, { method: 'POST', body: bin, headers: { 'content-type': 'application/octet-stream' } });
    const binary = await api.ok('GET', `${base}/requests/${(await list())[0].id}`);
    assert.deepEqual(binary.requestBody, { size: 3000, contentType: 'application/octet-stream', truncated: false, kind: 'binary' });
    const big = 'z'.repeat(1024 * 1024);
    const up = await previewRequest(`${url}big`, { method: 'PUT', body: big, headers: { 'content-type': 'text/plain' } });
    assert.equal(up.json().length, big.length, 'the service got all of it');
    const entry = await api.ok('GET', `${base}/requests/${(await list())[0].id}`);
    assert.equal(entry.requestBody.size, big.length);
    assert.equal(entry.requestBody.truncated, true);
    assert.equal(entry.requestBody.text.length, 64 * 1024);
    assert.equal(entry.bytesIn, big.length);
    const replay = await api.call('POST', `${base}/requests/${entry.id}/replay`, {});
    assert.equal(replay.status, 409);
    assert.equal(replay.body.code, 'REPLAY_IMPOSSIBLE');
    assert.match(replay.body.error, /its body \(1048576 bytes\) was not kept whole/);
  });

  it('redacts Authorization, Cookie, Set-Cookie and the ticket parameter before anything is kept', async () => {
    await previewRequest(`${url}secret?__sandbox_ticket=t1234`, { headers: { authorization: 'Bearer my-own-token', cookie: 'session=hunter2' } });
    const entry = await api.ok('GET', `${base}/requests/${(await list())[0].id}`);
    const text = JSON.stringify(entry);
    for (const secret of ['my-own-token', 'hunter2', 't1234']) assert.ok(!text.includes(secret), `${secret} is not kept`);
    assert.deepEqual(entry.redacted.sort(), ['authorization', 'cookie', 'ticket']);
    assert.match(entry.path, /__sandbox_ticket=%5Bredacted%5D/);
  });

  it('replays a request through the preview path: the service gets it again, recorded as a new entry linked to the first', async () => {
    await previewRequest(`${url}replay-me`, { method: 'POST', body: '{"n":1}', headers: { 'content-type': 'application/json', cookie: 'sid=abc' } });
    const first = (await list())[0];
    const replayed = await api.ok('POST', `${base}/requests/${first.id}/replay`, { cookie: 'sid=restored' });
    assert.equal(replayed.replayOf, first.id);
    assert.equal(replayed.method, 'POST');
    assert.equal(replayed.path, '/replay-me');
    assert.equal(replayed.status, 200);
    const seen = JSON.parse(replayed.responseBody.text);
    assert.equal(seen.url, '/replay-me');
    assert.equal(seen.length, 7, 'the same body');
    assert.equal(seen.headers.cookie, 'sid=restored', 'the credential the caller gave, not the redacted one');
    assert.equal((await list())[0].id, replayed.id);
    const without = await api.ok('POST', `${base}/requests/${first.id}/replay`);
    assert.equal(JSON.parse(without.responseBody.text).headers.cookie, undefined, 'no credential unless given');
  });

  it('records Server-Sent Events as they stream (still event by event), and a WebSocket session as one entry', async () => {
    const arrivals: number[] = [];
    let text = '';
    await previewStream(`${url}sse`, (chunk, at) => {
      text += chunk.toString();
      while (arrivals.length < text.split('\n\n').length - 1) arrivals.push(at);
    });
    assert.ok(arrivals[4]! - arrivals[0]! > 300, 'not buffered by the recording');
    const sse = await newest(1);
    assert.equal(sse.path, '/sse');
    assert.ok(sse.totalMs >= 600, `the entry spans the stream (${sse.totalMs} ms)`);

    const ws = previewSocket(url.replace('http://', 'ws://'));
    await nextMessage(ws);
    ws.send('ping one');
    await nextMessage(ws);
    ws.send(crypto.randomBytes(100));
    await nextMessage(ws);
    const closed = new Promise((resolve) => ws.once('close', resolve));
    ws.send('close:4002');
    await closed;
    await eventually(async () => (await list())[0].websocket?.closeCode === 4002, 10000, 'the WebSocket entry');
    const socket = (await list())[0];
    assert.equal(socket.status, 101);
    assert.equal(socket.websocket.framesIn, 3);
    assert.equal(socket.websocket.framesOut, 3, 'hello and two echoes');
    assert.equal(socket.websocket.bytesIn, 8 + 100 + 10);
  });

  it('follows a body without a length to its end, or to its first MiB and then lets the rest stream on, saying so', async () => {
    const small = await previewRequest(`${url}?chunked`);
    assert.equal(small.headers['content-length'], undefined, 'sent chunked');
    const entry = await newest(1);
    assert.equal(entry.bytesOut, small.body.length);
    assert.equal(entry.endUnseen, undefined);
    const one = await api.ok('GET', `${base}/requests/${entry.id}`);
    assert.equal(one.responseBody.kind, 'text');
    assert.equal(one.responseBody.text, small.text);
    assert.equal(one.responseBody.sizeUnknown, undefined);

    const big = await previewRequest(`${url}download?mb=3&chunked`);
    assert.equal(big.body.length, 3 * 1024 * 1024, 'the whole body reached the client');
    assert.equal(big.headers['content-length'], undefined);
    const followed = await newest(1);
    assert.equal(followed.path, '/download?mb=3&chunked');
    assert.equal(followed.endUnseen, true, 'its end was not followed');
    assert.ok(followed.bytesOut >= 1024 * 1024 && followed.bytesOut < 3 * 1024 * 1024, `counted to its first MiB (${followed.bytesOut})`);
    const detail = await api.ok('GET', `${base}/requests/${followed.id}`);
    assert.equal(detail.responseBody.sizeUnknown, true);
    assert.equal(detail.responseBody.truncated, true);
  });

  it("ends the service's endless stream when the client leaves: an event stream at once, any other within 10 s", async function () {
    this.timeout(60000);
    const leave = (id: string, type: string) =>
      new Promise<void>((resolve, reject) => {
        const req = http.request(`${url}forever?id=${id}&type=${encodeURIComponent(type)}`, { lookup: loopbackLookup }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
        req.end();
      });
    // Asked from inside the sandbox: through the preview URL each poll would be an entry too.
    const closedIds = async (): Promise<string[]> => {
      const script = `import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:${port}/closed').read().decode())`;
      return JSON.parse((await api.ok('POST', `/sandboxes/${box}/exec`, { command: `python3 -c "${script}"` })).stdout);
    };
    await leave('events', 'text/event-stream');
    await eventually(async () => (await closedIds()).includes('events'), 8000, 'the event stream closed at once (well before the 10 s a copy is followed)');
    await leave('plain', 'text/plain');
    await eventually(async () => (await closedIds()).includes('plain'), 15000, 'the plain stream closed once its copy was let go');
    const entries = await list();
    const plain = entries.find((e) => e.path.includes('id=plain'));
    assert.equal(plain?.status, 200);
    assert.equal(plain?.endUnseen, true, `followed for 10 s, its end not seen: ${JSON.stringify(plain)}`);
    const plainBody = (await api.ok('GET', `${base}/requests/${plain.id}`)).responseBody;
    assert.equal(plainBody.truncated, true, 'what was kept is not the whole body');
    assert.equal(plainBody.sizeUnknown, true);
    const events = entries.find((e) => e.path.includes('id=events'));
    assert.ok(events, 'the event stream is an entry too');
    assert.equal(events.endUnseen, undefined);
  });

  it('records what the proxy answers itself: a wrong token (404) and nothing listening (502)', async () => {
    const wrong = url.replace(/-([a-z0-9]+)\.localhost/, '-wrongtoken1.localhost');
    assert.equal((await previewRequest(wrong)).status, 404);
    const miss = await newest(1);
    assert.equal(miss.status, 404);
    assert.equal(miss.answeredBy, 'proxy');
    assert.equal(miss.code, 'INVALID_TOKEN');

    const quiet = (await api.ok('POST', `/sandboxes/${box}/ports`, { port: port + 1 === 3000 ? port + 2 : port + 1 })).url;
    const quietPort = Number(new URL(quiet).host.split('-')[0]);
    assert.equal((await previewRequest(quiet)).status, 502);
    const down = (await api.ok('GET', `/sandboxes/${box}/ports/${quietPort}/requests`)).requests[0];
    assert.equal(down.status, 502);
    assert.equal(down.answeredBy, 'proxy');
    assert.equal(down.code, 'SERVICE_UNAVAILABLE');
    // The exposure ends: so do its records.
    await api.ok('DELETE', `/sandboxes/${box}/ports/${quietPort}`);
    assert.equal((await api.call('GET', `/sandboxes/${box}/ports/${quietPort}/requests`)).status, 404);
  });

  it("tells the tree each port's request count and last status: in the sandbox's snapshot and as a port-traffic event", async () => {
    const events = await api.stream('/events');
    await events.waitFor((m) => m.event === 'hello');
    await previewRequest(`${url}redirect`);
    const figure = async () => (await api.ok('GET', `/sandboxes/${box}`)).ports.find((p: any) => p.port === port).traffic;
    await eventually(async () => (await figure())?.lastStatus === 302, 10000, 'the snapshot shows the last status');
    const { requests } = await figure();
    assert.equal(requests, (await api.ok('GET', `${base}/requests`)).requests.length, 'the count is of what came');
    const event = await events.waitFor((m) => m.event === 'change' && JSON.parse(m.data).type === 'port-traffic' && JSON.parse(m.data).traffic.lastStatus === 302);
    assert.equal(JSON.parse(event.data).port, port);
    events.close();
  });

  it('streams entries as they finish, resumes from the last id without gap or duplicate, and says when cleared', async () => {
    const stream = await api.stream(`${base}/requests/stream`);
    const hello = await stream.waitFor((m) => m.event === 'hello');
    await previewRequest(`${url}live-1`);
    const one = await stream.waitFor((m) => m.event === 'request' && JSON.parse(m.data).path === '/live-1');
    stream.close();
    await previewRequest(`${url}live-2`);
    await previewRequest(`${url}live-3`);
    const listed = await api.ok('GET', `${base}/requests`);
    const [epoch, seq] = (one.id as string).split('.');
    assert.match(listed.lastEventId, new RegExp(`^${epoch}\\.\\d+$`), 'the list says where the stream stands');
    assert.equal(Number(listed.lastEventId.split('.')[1]), Number(seq) + 2);
    // Opened from the list's position: nothing of what the list has comes again.
    const fromList = await api.stream(`${base}/requests/stream`, listed.lastEventId);
    await previewRequest(`${url}live-4`);
    const first = await fromList.waitFor((m) => m.event === 'request');
    assert.equal(JSON.parse(first.data).path, '/live-4');
    fromList.close();
    const resumed = await api.stream(`${base}/requests/stream`, one.id);
    const next = [await resumed.waitFor((m) => m.event === 'request'), await resumed.waitFor((m) => m.event === 'request' && JSON.parse(m.data).path === '/live-3')];
    assert.deepEqual(
      next.map((m) => JSON.parse(m.data).path),
      ['/live-2', '/live-3'],
    );
    await api.ok('DELETE', `${base}/requests`);
    const reset = await resumed.waitFor((m) => m.event === 'reset');
    resumed.close();
    assert.match(JSON.parse(hello.data).lastEventId, /^[0-9a-z]+\.\d+$/);
    assert.deepEqual(await list(), []);
    // A follower that missed the clear, from where it stood: told to fetch the list again.
    const late = await api.stream(`${base}/requests/stream`, listed.lastEventId);
    await late.waitFor((m) => m.event === 'reset');
    late.close();
    assert.notEqual(JSON.parse(reset.data).lastEventId, listed.lastEventId);
  });

  it('keeps the last 200 of 10,000 requests, within its bytes', async function () {
    this.timeout(300000);
    await api.ok('DELETE', `${base}/requests`);
    let sent = 0;
    const worker = async (): Promise<void> => {
      while (sent < 10000) {
        sent++;
        await previewRequest(`${url}n/${sent}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    await eventually(async () => (await list()).length === 200, 10000, '200 entries');
    const kept = await list();
    assert.equal(kept.length, 200);
    assert.ok(kept[0].id > 9800, `the newest are kept (${kept[0].id})`);
  });

  it('records nothing of an exposure made with inspect: false, and says so', async () => {
    const off = `/sandboxes/${box}/ports`;
    const quietPort = port + 3 === 3000 ? port + 4 : port + 3;
    await api.ok('POST', off, { port: quietPort, inspect: false });
    const exposed = (await api.ok('GET', off)).ports.find((p: any) => p.port === quietPort);
    assert.equal(exposed.inspect, false);
    await previewRequest(exposed.url);
    const answer = await api.ok('GET', `${off}/${quietPort}/requests`);
    assert.deepEqual(answer, { requests: [], lastEventId: '', inspect: false, reason: `Inspection is off for port ${quietPort} (exposed with inspect: false)` });
    const stream = await api.call('GET', `${off}/${quietPort}/requests/stream`);
    assert.equal(stream.status, 409);
    assert.equal(stream.body.code, 'INSPECTION_OFF');
    assert.equal(exposed.traffic, undefined, 'no count for a port that is not recorded');
    await api.ok('DELETE', `${off}/${quietPort}`);
  });

  it('answers bad input with a 4xx saying what was wrong', async () => {
    const cases: [string, string, number, RegExp][] = [
      ['GET', `${base}/requests?limit=0`, 400, /'limit' must be a whole number/],
      ['GET', `${base}/requests?before=x`, 400, /'before' must be a request id/],
      ['GET', `${base}/requests/abc`, 400, /A request id is a whole number/],
      ['GET', `${base}/requests/999999`, 404, /is not kept/],
      ['GET', `/sandboxes/${box}/ports/7999/requests`, 404, /Port 7999 is not exposed/],
      ['GET', `/sandboxes/${box}/ports/80/requests`, 400, /Invalid port number: 80/],
      ['POST', `${base}/requests/999999/replay`, 404, /is not kept/],
    ];
    for (const [method, path, status, message] of cases) {
      const r = await api.call(method, path);
      assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error, message);
    }
    await previewRequest(`${url}x`);
    const id = (await list())[0].id;
    const bad = await api.call('POST', `${base}/requests/${id}/replay`, { host: 'elsewhere' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /only 'authorization' and 'cookie'/);
    assert.equal((await new Api(stack.url, '').call('GET', `${base}/requests`)).status, 401, 'the control API token is needed');
  });

  it('never serves the inspector on a preview URL', async () => {
    for (const p of ['api/v1/sandboxes', `api/v1/sandboxes/${box}/ports/${port}/requests`]) {
      const r = await previewRequest(`${url}${p}`);
      assert.equal(r.json().url, `/${p}`, 'the service got it, as any other path');
    }
  });
});
