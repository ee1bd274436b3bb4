import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpFetch } from '../../extension/http-fetch';

describe('httpFetch', () => {
  let server: http.Server;
  let port: number;
  let release: () => void = () => {};

  before(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/stream') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('event: hello\ndata: {}\n\n');
        release = () => res.end('event: bye\ndata: {}\n\n');
        return;
      }
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        res.writeHead(req.url === '/empty' ? 204 : 200, { 'content-type': 'application/json' });
        res.end(req.url === '/empty' ? undefined : JSON.stringify({ host: req.headers.host, method: req.method, body, auth: req.headers.authorization }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });

  after(() => server.close());

  describe('requests', () => {
    it('sends method, headers and body, and answers a Response', async () => {
      const res = await httpFetch(`http://127.0.0.1:${port}/x`, { method: 'POST', headers: { authorization: 'Bearer t' }, body: '{"a":1}' });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { host: `127.0.0.1:${port}`, method: 'POST', body: '{"a":1}', auth: 'Bearer t' });
      assert.equal((await httpFetch(`http://127.0.0.1:${port}/empty`, { method: 'DELETE' })).status, 204);
    });

    it('sends a *.localhost preview to loopback with the preview host in Host', async () => {
      const res = await httpFetch(`http://8080-my-box-abc.localhost:${port}/`);
      assert.equal(((await res.json()) as { host: string }).host, `8080-my-box-abc.localhost:${port}`);
    });

    it('delivers a streamed body as it arrives, before the response ends', async () => {
      const res = await httpFetch(`http://127.0.0.1:${port}/stream`);
      const reader = res.body!.getReader();
      const first = await reader.read();
      assert.match(new TextDecoder().decode(first.value), /event: hello/);
      release();
      await reader.cancel();
    });

    it('rejects as fetch does when nothing listens', async () => {
      await assert.rejects(httpFetch('http://127.0.0.1:1/'), (err: unknown) => err instanceof TypeError && (err.cause as { code?: string })?.code === 'ECONNREFUSED');
    });
  });
});
