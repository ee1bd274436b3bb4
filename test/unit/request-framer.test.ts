import assert from 'node:assert/strict';
import { FramingError, RequestFramer, parseHead, type RequestHead } from '../../container/host/request-framer';

/** A framer that marks each head it sees and records it; answers the forwarded bytes as text. */
function framer(): { feed: (...chunks: string[]) => string; heads: RequestHead[]; f: RequestFramer } {
  const heads: RequestHead[] = [];
  const f = new RequestFramer((head) => {
    heads.push(head);
    return Buffer.from(`[${head.method} ${head.target}]`);
  });
  const feed = (...chunks: string[]) => chunks.map((c) => Buffer.concat(f.push(Buffer.from(c, 'latin1'))).toString('latin1')).join('');
  return { feed, heads, f };
}

describe('request framer (container/host/request-framer.ts)', () => {
  it('rewrites each head of pipelined requests and passes bodies by Content-Length', () => {
    const { feed, heads } = framer();
    const out = feed('GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /c HTTP/1.1\r\n\r\n');
    assert.equal(out, '[GET /a][POST /b]hello[GET /c]');
    assert.deepEqual(
      heads.map((h) => h.get('host') ?? null),
      ['x', null, null],
    );
  });

  it('finds heads and bodies split anywhere across chunks', () => {
    const { feed } = framer();
    const text = 'PUT /f HTTP/1.1\r\ncontent-length: 3\r\n\r\nabcGET /g HTTP/1.1\r\n\r\n';
    const out = feed(...text.split(''));
    assert.equal(out, '[PUT /f]abc[GET /g]');
  });

  it('follows chunked bodies (with extensions and trailers) to the next head', () => {
    const { feed } = framer();
    const body = '4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\n';
    const out = feed('POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n', ...body.match(/.{1,3}/gs)!, 'GET /next HTTP/1.1\r\n\r\n');
    assert.equal(out, `[POST /c]${body}[GET /next]`);
  });

  it('turns into a byte pipe after a WebSocket upgrade', () => {
    const { feed, f } = framer();
    const out = feed('GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05hello', 'GET /not-a-head HTTP/1.1\r\n\r\n');
    assert.equal(out, '[GET /ws]\x81\x05helloGET /not-a-head HTTP/1.1\r\n\r\n');
    assert.equal(f.raw, true);
  });

  it('refuses malformed heads, bad lengths and huge heads with a status', () => {
    const cases: Array<[string, number]> = [
      ['NOT A REQUEST\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\nBad Header\r\n\r\n', 400],
      ['POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n', 400],
      ['POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n', 501],
      ['POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400],
      [`GET / HTTP/1.1\r\nX: ${'a'.repeat(70 * 1024)}`, 431],
    ];
    for (const [input, status] of cases) {
      const { feed } = framer();
      assert.throws(
        () => feed(input),
        (err: unknown) => err instanceof FramingError && err.status === status,
        JSON.stringify(input.slice(0, 40)),
      );
    }
  });

  it('passes a refusal from the rewriter on, before anything of that request is forwarded', () => {
    const f = new RequestFramer(() => {
      throw new FramingError('no secret', 403);
    });
    assert.throws(() => f.push(Buffer.from('GET / HTTP/1.1\r\n\r\n')), /no secret/);
  });

  it('parses header names case-insensitively and joins repeated ones', () => {
    const head = parseHead('GET /x HTTP/1.1\r\nAccept: a\r\naccept: b\r\nX-Sandbox-Secret: s');
    assert.equal(head.get('ACCEPT'), 'a, b');
    assert.equal(head.get('x-sandbox-secret'), 's');
    assert.equal(head.get('missing'), undefined);
  });
});
