import assert from 'node:assert/strict';
import { MAKE_UNFOLLOWED_WITHIN_MS, MAKE_WITHIN_MS, TrafficLog, type StoredEntry } from '../../worker/sandbox/traffic/traffic-log';
import { TallyNotices } from '../../worker/sandbox/traffic/traffic-tally';
import { copyableWhileOpen, describeBody, type Captured } from '../../worker/sandbox/traffic/body-capture';
import { redactPath } from '../../worker/sandbox/traffic/recording';
import { packHeaders, unpackHeaders } from '../../worker/sandbox/traffic/packed-headers';
import { frameBytes } from '../../worker/sandbox/traffic/socket-watch';
import { REDACTED, TRAFFIC_BODY_BYTES, checkRequestId, parseReplayBody, parseTrafficQuery, type PortTraffic } from '../../worker/protocol/index';

const text = (t: string): Captured => ({ head: new TextEncoder().encode(t), size: t.length, complete: true });

function entry(port: number, id: number, extra: Partial<StoredEntry> = {}): StoredEntry {
  return {
    id,
    port,
    at: Date.parse('2026-01-01T00:00:00.000Z'),
    method: 'GET',
    path: `/r/${id}`,
    status: 200,
    answeredBy: 'service',
    ttfbMs: 1,
    totalMs: 2,
    requestHeaders: '',
    responseHeaders: 'content-type\ntext/plain',
    requestBody: null,
    responseBody: text('x'.repeat(10)),
    redacted: [],
    seq: 0,
    bytes: 0,
    ...extra,
  };
}

/** A request that arrives and finishes at once. */
function record(log: TrafficLog, port: number, extra: Partial<StoredEntry> = {}): void {
  const { id, epoch } = log.begin(port);
  log.add(entry(port, id, extra), epoch);
}

describe('traffic inspector parts', () => {
  describe('TrafficLog', () => {
    it('keeps the newest entries per port, newest first, within its count', () => {
      const log = new TrafficLog(3);
      for (let i = 1; i <= 5; i++) record(log, 8000);
      record(log, 9000);
      assert.deepEqual(
        log.list(8000, { limit: 10 }).map((e) => e.id),
        [5, 4, 3],
      );
      assert.deepEqual(
        log.list(8000, { limit: 10, before: 5 }).map((e) => e.id),
        [4, 3],
      );
      assert.equal(log.list(9000, { limit: 10 })[0]!.id, 1, 'each port counts on its own');
      assert.equal('requestHeaders' in log.list(8000, { limit: 1 })[0]!, false, 'the list carries no headers or bodies');
    });

    it('stays within its bytes: the oldest go first', () => {
      const log = new TrafficLog(200, 4000);
      for (let i = 1; i <= 50; i++) record(log, 8000, { responseBody: text('y'.repeat(1000)) });
      const kept = log.list(8000, { limit: 200 });
      assert.ok(kept.length >= 1 && kept.length <= 3, `${kept.length} kept`);
      assert.ok(log.size.bytes <= 4000);
      assert.equal(kept[0]!.id, 50);
    });

    it('makes a finished request’s entry off the answer’s path: within a moment, at once for any read, at once past 64 waiting', async () => {
      const log = new TrafficLog();
      const finish = () => {
        const { id, epoch } = log.begin(8000);
        log.later({ make: () => log.add(entry(8000, id), epoch) });
      };
      const heard: string[] = [];
      log.follow(8000, (news) => 'entry' in news && heard.push(news.position));
      finish();
      assert.equal(heard.length, 0, 'not made while the answer may still be going out');
      await new Promise((resolve) => setTimeout(resolve, MAKE_WITHIN_MS + 20));
      assert.equal(heard.length, 1, `made within ${MAKE_WITHIN_MS} ms without a read`);
      finish();
      assert.deepEqual(
        log.list(8000, { limit: 10 }).map((e) => e.id),
        [2, 1],
        'a read right after a request finished sees it',
      );
      for (let i = 0; i < 64; i++) finish();
      assert.equal(heard.length, 66, 'what waits stays bounded: the 64th made them all');
      assert.equal(log.tally(8000)?.requests, 66);
    });

    it('makes entries no one follows within a longer moment (for the tree’s count), and at once when someone starts following', async () => {
      const tallied: number[] = [];
      const log = new TrafficLog(undefined, undefined, (port) => tallied.push(port));
      const finish = () => {
        const { id, epoch } = log.begin(8000);
        log.later({ make: () => log.add(entry(8000, id), epoch) });
      };
      finish();
      await new Promise((resolve) => setTimeout(resolve, MAKE_WITHIN_MS + 20));
      assert.equal(tallied.length, 0, 'unfollowed, it may wait past the live window');
      await new Promise((resolve) => setTimeout(resolve, MAKE_UNFOLLOWED_WITHIN_MS));
      assert.equal(tallied.length, 1, `made within ${MAKE_UNFOLLOWED_WITHIN_MS} ms without a read`);
      finish();
      const heard: number[] = [];
      const unfollow = log.follow(8000, (news) => 'entry' in news && heard.push(news.entry.id));
      assert.equal(tallied.length, 2, 'a new follower makes what waits first');
      finish();
      await new Promise((resolve) => setTimeout(resolve, MAKE_WITHIN_MS + 20));
      assert.deepEqual(heard, [3], 'followed, within the live window');
      unfollow();
      unfollow();
      finish();
      await new Promise((resolve) => setTimeout(resolve, MAKE_WITHIN_MS + 20));
      assert.equal(tallied.length, 3, 'no one follows again: the long window');
      log.follow(8000, () => {});
      finish();
      await new Promise((resolve) => setTimeout(resolve, MAKE_WITHIN_MS + 20));
      assert.equal(tallied.length, 5, 'a second unfollow did not count twice: a new follower gets the live window');
      assert.equal(log.tally(8000)?.requests, 5);
    });

    it('tells followers of new entries, of a clear and of the end of the exposure; resumes or says it cannot', () => {
      const log = new TrafficLog(3);
      const news: string[] = [];
      log.follow(8000, (n) => news.push('entry' in n ? `entry ${n.entry.id}` : 'reset' in n ? 'reset' : 'ended'));
      const start = log.position(8000);
      const positions: string[] = [];
      log.follow(8000, (n) => 'entry' in n && positions.push(n.position));
      for (let i = 0; i < 5; i++) record(log, 8000);
      assert.deepEqual(
        log.since(8000, positions[2]!)!.map((k) => k.entry.id),
        [4, 5],
      );
      assert.equal(log.since(8000, start), null, 'entries 1 and 2 are no longer kept');
      assert.equal(log.since(8000, positions[4]!.replace(/\d+$/, '99')), null, 'past the newest');
      assert.equal(log.since(8000, 'zz.1'), null, 'another epoch');
      assert.equal(log.since(8000, 'not a position'), null);
      log.clear(8000);
      assert.equal(log.begin(8000).id, 6, 'ids go on counting after a clear');
      log.drop(8000);
      assert.deepEqual(news, ['entry 1', 'entry 2', 'entry 3', 'entry 4', 'entry 5', 'reset', 'ended']);
      assert.deepEqual(log.list(8000, { limit: 10 }), []);
    });

    it('resumes by finishing order: a long request that finishes after later ones is not missed', () => {
      const log = new TrafficLog();
      const slow = log.begin(8000);
      const quick = log.begin(8000);
      log.add(entry(8000, quick.id), quick.epoch);
      const position = log.position(8000);
      // The follower goes away here; the slow request (a lower id) finishes meanwhile.
      log.add(entry(8000, slow.id), slow.epoch);
      assert.deepEqual(
        log.since(8000, position)!.map((k) => k.entry.id),
        [slow.id],
      );
      assert.deepEqual(
        log.list(8000, { limit: 10 }).map((e) => e.id),
        [quick.id, slow.id],
        'the list is by arrival',
      );
    });

    it('makes a follower that missed a clear fetch the list again, even at the same count, and counts from the clear', () => {
      const log = new TrafficLog();
      for (let i = 0; i < 3; i++) record(log, 8000, { status: 201 });
      assert.deepEqual(log.tally(8000), { requests: 3, lastStatus: 201, lastTime: '2026-01-01T00:00:00.000Z' });
      const before = log.position(8000);
      log.clear(8000);
      assert.equal(log.since(8000, before), null, 'the clear was missed: fetch again');
      for (let i = 0; i < 3; i++) record(log, 8000, { status: 404 });
      assert.equal(log.since(8000, before), null, 'as many entries again, still another epoch');
      assert.deepEqual(log.tally(8000), { requests: 3, lastStatus: 404, lastTime: '2026-01-01T00:00:00.000Z' });
      assert.deepEqual(log.since(7000, log.position(7000)), [], 'a port with nothing yet');
      assert.notEqual(new TrafficLog().position(8000), log.position(8000), 'another log (a restarted object) has other positions');
    });

    it('keeps no request that began before its exposure ended or its records were cleared', () => {
      const log = new TrafficLog();
      const early = log.begin(8000);
      log.drop(8000);
      log.add(entry(8000, early.id), early.epoch);
      assert.equal(log.tally(8000), undefined, 'no ring came back for the gone exposure');
      assert.deepEqual(log.list(8000, { limit: 10 }), []);
      const beforeClear = log.begin(8000);
      log.clear(8000);
      log.add(entry(8000, beforeClear.id), beforeClear.epoch);
      assert.deepEqual(log.list(8000, { limit: 10 }), [], 'it belonged to what was cleared');
    });

    it('keeps bodies as bytes and gives them as text only when read, counting the bytes against the bounds', () => {
      const log = new TrafficLog();
      const json = '{"héllo":"wörld"}';
      record(log, 8000, {
        requestHeaders: 'content-type\napplication/json',
        requestBody: text(json),
        responseHeaders: 'content-type\nimage/png',
        responseBody: { head: new Uint8Array([0, 1, 2]), size: 3, complete: true },
      });
      const got = log.get(8000, 1)!;
      assert.deepEqual(got.requestBody, { size: json.length, contentType: 'application/json', truncated: false, kind: 'text', text: json });
      assert.deepEqual(got.responseBody, { size: 3, contentType: 'image/png', truncated: false, kind: 'binary' });
      const noBody = new TrafficLog();
      record(noBody, 8000, { requestHeaders: 'content-type\napplication/json', responseHeaders: 'content-type\nimage/png', responseBody: null });
      assert.equal(log.size.bytes - noBody.size.bytes, new TextEncoder().encode(json).length + 3);
    });
  });

  describe("TallyNotices (the tree's request count)", () => {
    it('sends the first change at once, then at most one per interval per port, ending on the newest figure', async () => {
      let figure: PortTraffic = { requests: 0 };
      const sent: string[] = [];
      const tally = new TallyNotices(
        () => figure,
        async (port, t) => void sent.push(`${port}:${t.requests}`),
        40,
      );
      for (let i = 1; i <= 50; i++) {
        figure = { requests: i };
        tally.changed(8000);
      }
      tally.changed(9000);
      assert.deepEqual(sent, ['8000:1', '9000:50']);
      const deadline = Date.now() + 2000;
      while (sent.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(sent, ['8000:1', '9000:50', '8000:50'], 'the newest figure went out after the interval');
    });
  });

  describe('what is kept of a body', () => {
    const bytes = (s: string) => new TextEncoder().encode(s);

    it('reads a copy of a body without a length, unless the body is made to stay open (its copy must end with the client)', () => {
      for (const t of [null, 'application/json', 'text/html; charset=utf-8', 'application/octet-stream', 'text/plain']) assert.equal(copyableWhileOpen(t), true, String(t));
      for (const t of [
        'text/event-stream',
        'Text/Event-Stream; charset=utf-8',
        'application/x-ndjson',
        'application/ndjson',
        'application/jsonl',
        'application/json-seq',
        'application/stream+json',
        'multipart/x-mixed-replace; boundary=frame',
      ]) {
        assert.equal(copyableWhileOpen(t), false, t);
      }
    });

    it('keeps text as text, JSON too, and says when more came', () => {
      assert.deepEqual(describeBody(bytes('{"a":1}'), 7, 'application/json', true), { size: 7, contentType: 'application/json', truncated: false, kind: 'text', text: '{"a":1}' });
      const cut = describeBody(bytes('abc'), 1_000_000, 'text/plain', true);
      assert.equal(cut.truncated, true);
      assert.equal(cut.text, 'abc');
    });

    it('keeps binary only by size and type, and an empty body as none', () => {
      assert.deepEqual(describeBody(new Uint8Array([0, 1, 2]), 3, 'image/png', true), { size: 3, contentType: 'image/png', truncated: false, kind: 'binary' });
      assert.equal(describeBody(new Uint8Array([0xff, 0xfe, 0x00]), 3, null, true).kind, 'binary', 'not UTF-8, no type');
      assert.equal(describeBody(new Uint8Array(), 0, null, true).kind, 'none');
    });

    it('leaves out a character cut at the end of the kept part instead of garbling it', () => {
      const text = `${'a'.repeat(TRAFFIC_BODY_BYTES - 1)}é`;
      const head = bytes(text).subarray(0, TRAFFIC_BODY_BYTES);
      const kept = describeBody(head, TRAFFIC_BODY_BYTES + 1, 'text/plain', true);
      assert.equal(kept.kind, 'text');
      assert.equal(kept.text, 'a'.repeat(TRAFFIC_BODY_BYTES - 1));
    });
  });

  describe('packed headers', () => {
    it('give back the same pairs in the same order, empty values and colons included', () => {
      const none = { redact: () => assert.fail('no credential here') };
      const pairs: [string, string][] = [
        ['accept', 'text/html'],
        ['x-empty', ''],
        ['x-time', '12:30:00'],
        ['x-last', ''],
      ];
      assert.deepEqual(
        unpackHeaders(packHeaders(new Headers(pairs), none)),
        [...pairs].sort(([a], [b]) => a.localeCompare(b)),
      );
      assert.deepEqual(unpackHeaders(packHeaders(new Headers(), none)), []);
      // The packing relies on this: a line break cannot be in a header value.
      assert.throws(() => new Headers([['x-bad', 'a\nb']]));
    });
  });

  describe('WebSocket frames', () => {
    it("counts a text frame's bytes as UTF-8 has them, a binary frame's as its length", () => {
      for (const t of ['', 'plain ascii', 'héllo wörld', '€ and 日本', 'emoji 😀 pair', 'lone \ud800 high', 'lone \udc00 low', 'end \ud83d']) {
        assert.equal(frameBytes(t), new TextEncoder().encode(t).byteLength, JSON.stringify(t));
      }
      assert.equal(frameBytes(new ArrayBuffer(7)), 7);
    });
  });

  describe('redaction', () => {
    it('keeps no credential: Authorization, Cookie, Set-Cookie, the ticket parameter', () => {
      const headers = new Headers([
        ['authorization', 'Bearer s3cret'],
        ['cookie', 'session=abc'],
        ['accept', 'text/html'],
      ]);
      const redacted: string[] = [];
      const found = { redact: (name: string) => void (redacted.includes(name) || redacted.push(name)) };
      assert.deepEqual(unpackHeaders(packHeaders(headers, found)), [
        ['accept', 'text/html'],
        ['authorization', REDACTED],
        ['cookie', REDACTED],
      ]);
      assert.deepEqual(redacted.sort(), ['authorization', 'cookie']);
      const res = new Headers();
      res.append('set-cookie', 'a=1');
      res.append('set-cookie', 'b=2');
      assert.deepEqual(unpackHeaders(packHeaders(res, found)), [
        ['set-cookie', REDACTED],
        ['set-cookie', REDACTED],
      ]);
      assert.deepEqual(redactPath(new URL('http://x/open?__sandbox_ticket=abc&q=1')), { path: `/open?__sandbox_ticket=${encodeURIComponent(REDACTED)}&q=1`, redacted: true });
      assert.deepEqual(redactPath(new URL('http://x/a?b=1')), { path: '/a?b=1', redacted: false });
    });
  });

  describe('parsers', () => {
    it('refuses bad limits, ids and replay bodies with a message naming the field', () => {
      assert.deepEqual(parseTrafficQuery('5', '12'), { limit: 5, before: 12 });
      assert.throws(() => parseTrafficQuery('0', null), /'limit' must be a whole number from 1 to 200/);
      assert.throws(() => parseTrafficQuery('lots', null), /'limit'/);
      assert.throws(() => parseTrafficQuery(null, '-1'), /'before' must be a request id/);
      assert.throws(() => checkRequestId('abc'), /A request id is a whole number/);
      assert.deepEqual(parseReplayBody({ authorization: 'Bearer x' }), { authorization: 'Bearer x' });
      assert.throws(() => parseReplayBody({ host: 'evil' }), /only 'authorization' and 'cookie'/);
      assert.throws(() => parseReplayBody({ cookie: 'a\r\nb' }), /on one line/);
    });
  });
});
