import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { curlCommand, shellQuote } from '../../extension/core/curl';
import { NO_FILTER, formatDuration, formatSize, matchesFilter, prettyBody, statusTone } from '../../extension/core/traffic-filter';
import { parsePageMessage, requestUrl } from '../../extension/core/traffic-messages';
import { trafficCsp, trafficHtml } from '../../extension/core/traffic-html';
import { reduce } from '../../extension/core/state-reducer';
import { buildTree, walk } from '../../extension/core/tree-model';
import { REDACTED, TICKET_PARAM, type TrafficEntry, type TrafficSummary } from '../../worker/protocol/index';
import { box, ev } from './extension-fakes';

const EXPOSURE = 'http://8000-box-abcdefghijklmnop.localhost:8787/';

function summary(extra: Partial<TrafficSummary> = {}): TrafficSummary {
  return {
    id: 1,
    port: 8000,
    time: '2026-12-07T10:00:00.000Z',
    method: 'GET',
    path: '/api/items?q=1',
    status: 200,
    answeredBy: 'service',
    ttfbMs: 3,
    totalMs: 5,
    bytesIn: 0,
    bytesOut: 42,
    ...extra,
  };
}

function entry(extra: Partial<TrafficEntry> = {}): TrafficEntry {
  return {
    ...summary(),
    requestHeaders: [],
    responseHeaders: [],
    requestBody: { size: 0, kind: 'none', truncated: false },
    responseBody: { size: 0, kind: 'none', truncated: false },
    redacted: [],
    ...extra,
  };
}

describe('traffic inspector in the extension (pure parts)', () => {
  describe('Copy as curl', () => {
    it('quotes for a POSIX shell, so what a person pastes is what was sent', () => {
      const tricky = `it's "$HOME" \`id\` \\ ;`;
      const out = execFileSync('sh', ['-c', `printf %s ${shellQuote(tricky)}`]).toString();
      assert.equal(out, tricky);
    });

    it('sends the same method, URL, headers and body to a real server, credentials as variables set first', async () => {
      const got: { method?: string; url?: string; headers?: http.IncomingHttpHeaders; body?: string } = {};
      const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
          Object.assign(got, { method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() });
          res.end('ok');
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      try {
        const body = `{"name":"it's"}`;
        const command = curlCommand(
          entry({
            method: 'PUT',
            path: `/items/7?x=a%20b&${TICKET_PARAM}=${encodeURIComponent(REDACTED)}`,
            requestHeaders: [
              ['host', '8000-box.localhost'],
              ['content-type', 'application/json'],
              ['authorization', REDACTED],
              ['x-note', `a 'quoted' value`],
              ['content-length', String(body.length)],
            ],
            requestBody: { size: body.length, kind: 'text', text: body, truncated: false },
            redacted: ['authorization', 'ticket'],
          }),
          origin,
        );
        assert.match(command, /^# Not kept by the inspector: set \$AUTHORIZATION, \$TICKET before running this\.\n/);
        // Not execFileSync: the server answering curl runs in this process.
        await promisify(execFile)('sh', ['-c', command], { env: { ...process.env, AUTHORIZATION: 'Bearer mine', TICKET: 't1' }, timeout: 10000 });
        assert.equal(got.method, 'PUT');
        assert.equal(got.url, `/items/7?x=a%20b&${TICKET_PARAM}=t1`);
        assert.equal(got.headers?.authorization, 'Bearer mine');
        assert.equal(got.headers?.['x-note'], `a 'quoted' value`);
        assert.equal(got.headers?.['content-type'], 'application/json');
        assert.equal(got.body, body);
      } finally {
        server.close();
      }
    });

    it('never lets a header or method from the wire run in the shell: only redacted credentials become variables', async () => {
      const evil = curlCommand(
        entry({
          method: 'PU`touch /tmp/curl-pwned`T',
          requestHeaders: [
            ['x-a`touch /tmp/curl-pwned`', REDACTED],
            ['x-b', '$(touch /tmp/curl-pwned)'],
          ],
          redacted: [],
        }),
        EXPOSURE,
      );
      fs.rmSync('/tmp/curl-pwned', { force: true });
      // Parsed by the shell as it would be when pasted, without running curl.
      const words = execFileSync('sh', ['-c', `set -- ${evil.replace(/^curl /, '')}; for w in "$@"; do printf '%s\\n' "$w"; done`]).toString();
      assert.equal(fs.existsSync('/tmp/curl-pwned'), false, 'nothing ran');
      assert.match(words, /^PU`touch \/tmp\/curl-pwned`T$/m);
      assert.match(words, /^x-a`touch \/tmp\/curl-pwned`: \[redacted\]$/m, 'a header that merely says [redacted] stays text');
      assert.match(words, /^x-b: \$\(touch \/tmp\/curl-pwned\)$/m);
      assert.match(curlCommand(entry({ method: 'GET', requestBody: { size: 2, kind: 'text', text: 'hi', truncated: false } }), EXPOSURE), /^curl -X 'GET' /);
    });

    it('names a file for a body that was not kept whole, and leaves out what curl sets itself', () => {
      const command = curlCommand(
        entry({
          method: 'POST',
          path: '/upload',
          requestHeaders: [
            ['host', 'x'],
            ['accept-encoding', 'gzip'],
            ['x-forwarded-for', '1.2.3.4'],
          ],
          requestBody: { size: 1_000_000, kind: 'text', text: 'x', truncated: true, contentType: 'text/plain' },
        }),
        EXPOSURE,
      );
      assert.match(command, /^# The request's body \(1000000 bytes, text\/plain\) was not kept whole: put it in request-body\.bin first\./);
      assert.match(command, /--data-binary @request-body\.bin$/);
      assert.match(command, /--compressed/);
      assert.doesNotMatch(command, /'host:|x-forwarded-for|accept-encoding/);
      assert.equal(curlCommand(entry({ method: 'HEAD' }), EXPOSURE), `curl --head '${EXPOSURE}api/items?q=1'`);
    });
  });

  describe('filters and words', () => {
    it('filters by method, status class and text', () => {
      const rows = [
        summary({ id: 1, method: 'GET', status: 200 }),
        summary({ id: 2, method: 'POST', status: 201, path: '/hooks/github' }),
        summary({ id: 3, status: 404, path: '/missing' }),
        summary({ id: 4, status: 502, answeredBy: 'proxy', code: 'UPSTREAM_UNREACHABLE' as TrafficSummary['code'] }),
        summary({ id: 5, status: 200, error: 'the client went away' }),
      ];
      const ids = (f: Partial<typeof NO_FILTER>) => rows.filter((r) => matchesFilter(r, { ...NO_FILTER, ...f })).map((r) => r.id);
      assert.deepEqual(ids({}), [1, 2, 3, 4, 5]);
      assert.deepEqual(ids({ method: 'POST' }), [2]);
      assert.deepEqual(ids({ status: '2xx' }), [1, 2, 5]);
      assert.deepEqual(ids({ status: '4xx' }), [3]);
      assert.deepEqual(ids({ status: 'proxy' }), [4]);
      assert.deepEqual(ids({ status: 'errors' }), [3, 4, 5]);
      assert.deepEqual(ids({ text: 'GITHUB' }), [2]);
      assert.deepEqual(ids({ text: 'upstream' }), [4]);
      assert.deepEqual(ids({ text: '404' }), [3]);
    });

    it('colours statuses by class, and formats durations, sizes and bodies for people', () => {
      assert.deepEqual(
        [200, 302, 404, 503].map((status) => statusTone(summary({ status }))),
        ['ok', 'redirect', 'client-error', 'server-error'],
      );
      assert.equal(statusTone(summary({ status: 200, error: 'reset' })), 'server-error');
      assert.deepEqual([formatDuration(5), formatDuration(1234), formatDuration(125_000)], ['5 ms', '1.23 s', '2 min 5 s']);
      assert.deepEqual([formatSize(512), formatSize(1536), formatSize(3 * 1024 * 1024), formatSize(2048, true)], ['512 B', '1.5 KiB', '3.0 MiB', '≥ 2.0 KiB']);
      assert.deepEqual(prettyBody('{"a":[1,2]}', 'application/json'), { text: '{\n  "a": [\n    1,\n    2\n  ]\n}', json: true });
      assert.deepEqual(prettyBody('{not json', 'application/json'), { text: '{not json', json: false });
      assert.deepEqual(prettyBody('plain', 'text/plain'), { text: 'plain', json: false });
    });
  });

  describe('the page and its messages', () => {
    it('takes only the messages it knows from the page, with whole-number ids', () => {
      assert.deepEqual(parsePageMessage({ type: 'replay', id: 3 }), { type: 'replay', id: 3 });
      assert.deepEqual(parsePageMessage({ type: 'copy-url' }), { type: 'copy-url' });
      assert.deepEqual(parsePageMessage({ type: 'ready', extra: 1 }), { type: 'ready' });
      for (const bad of [
        null,
        'replay',
        { type: 'replay' },
        { type: 'replay', id: '3' },
        { type: 'replay', id: 0 },
        { type: 'select', id: 1.5 },
        { type: 'copy-url', id: -1 },
        { type: 'run', id: 1 },
      ]) {
        assert.equal(parsePageMessage(bad), undefined, JSON.stringify(bad));
      }
    });

    it('serves the page under a strict policy: its own script by nonce, its own styles, nothing else', () => {
      const csp = trafficCsp({ cspSource: 'https://webview.test', nonce: 'abc123' });
      assert.match(csp, /^default-src 'none'; /);
      assert.match(csp, /script-src 'nonce-abc123'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|connect-src|frame-src|\*/);
      const html = trafficHtml({ cspSource: 'https://webview.test', nonce: 'abc123', scriptUri: 'https://webview.test/traffic.js', styleUri: 'https://webview.test/traffic.css' });
      assert.equal((html.match(/<script/g) ?? []).length, 1, 'one script');
      assert.match(html, /<script nonce="abc123" src="https:\/\/webview\.test\/traffic\.js"><\/script>/);
      assert.doesNotMatch(html, /\son[a-z]+=/, 'no inline handlers');
      assert.doesNotMatch(html, /style="/, 'no inline styles');
    });

    it("gives a request's URL without the ticket", () => {
      assert.equal(requestUrl(EXPOSURE, `/a?b=1&${TICKET_PARAM}=${encodeURIComponent(REDACTED)}`), `${EXPOSURE}a?b=1`);
    });
  });

  describe('the tree', () => {
    it("shows an exposed port's request count and last status, from the snapshot and from port-traffic events", () => {
      const exposed = { port: 8000, url: EXPOSURE, exposedAt: EXPOSURE, visibility: 'public' as const, createdAt: '2026-12-07T10:00:00.000Z', inspect: true };
      let world = { b: { ...box('b'), ports: [exposed] } };
      const description = () => {
        const rows = buildTree(world, { now: Date.parse('2026-12-07T10:01:00.000Z') });
        const port = walk(rows).find((n) => n.kind === 'port')!;
        return port.description!;
      };
      assert.doesNotMatch(description(), /request/);
      world = reduce(world, ev({ type: 'port-traffic', sandboxId: 'b', port: 8000, traffic: { requests: 12, lastStatus: 404, lastTime: '2026-12-07T10:00:30.000Z' } }));
      assert.match(description(), /^12 requests, last 404 · http:/);
      world = reduce(world, ev({ type: 'port-traffic', sandboxId: 'b', port: 8000, traffic: { requests: 1, lastStatus: 200 } }));
      assert.match(description(), /^1 request, last 200 · http:/);
    });
  });
});
