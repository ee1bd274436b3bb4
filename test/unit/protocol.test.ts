import assert from 'node:assert/strict';
import {
  checkSandboxId,
  checkUserPort,
  isLoopbackAddress,
  generateToken,
  generateTunnelId,
  parsePreviewHost,
  formatPreviewUrl,
  SseParser,
  formatSse,
  eventData,
} from '../../worker/protocol/index';

describe('protocol', () => {
  describe('checkSandboxId', () => {
    it('accepts ordinary ids and lowercases with normalizeId', () => {
      assert.equal(checkSandboxId('my-box'), 'my-box');
      assert.equal(checkSandboxId('MyProject-123', true), 'myproject-123');
    });
    it('refuses ids that break a rule, naming the rule', () => {
      assert.throws(() => checkSandboxId('-x'), /hyphen/);
      assert.throws(() => checkSandboxId('x-'), /hyphen/);
      assert.throws(() => checkSandboxId('WWW'), /reserved/);
      assert.throws(() => checkSandboxId('a'.repeat(64)), /1-63 characters/);
      assert.throws(() => checkSandboxId(''), /1-63 characters/);
    });
  });
  describe('checkUserPort', () => {
    it('applies the SPEC messages', () => {
      assert.equal(checkUserPort(8080), 8080);
      assert.equal(checkUserPort('8080'), 8080);
      assert.throws(() => checkUserPort(3000), /Port 3000 is reserved/);
      assert.throws(() => checkUserPort(1023), /Invalid port number: 1023\. Must be 1024-65535/);
      assert.throws(() => checkUserPort(65536), /Invalid port number: 65536/);
      assert.throws(() => checkUserPort(8080.5), /Invalid port number: 8080.5/);
      assert.throws(() => checkUserPort('abc'), /Invalid port number: abc/);
    });
  });
  describe('isLoopbackAddress', () => {
    it('knows IPv4 loopback in both spellings, and ::1', () => {
      for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '::FFFF:127.0.0.2']) assert.equal(isLoopbackAddress(a), true, a);
      for (const a of ['0.0.0.0', '::', '10.0.0.1', '::ffff:10.0.0.1', '::ffff:128.0.0.1', '1.127.0.0']) assert.equal(isLoopbackAddress(a), false, a);
    });
  });
  describe('generateToken', () => {
    it('makes 16 characters of [a-z0-9], different each time', () => {
      const a = generateToken();
      const b = generateToken();
      assert.match(a, /^[a-z0-9]{16}$/);
      assert.notEqual(a, b);
    });
  });
  describe('generateTunnelId', () => {
    it('makes quick- and 20 characters of [0-9a-z], as the SDK does', () => {
      assert.match(generateTunnelId(), /^quick-[0-9a-z]{20}$/);
      assert.notEqual(generateTunnelId(), generateTunnelId());
    });
  });
  describe('preview hosts', () => {
    it('formats local and production URLs', () => {
      assert.equal(formatPreviewUrl(8080, 'my-box', 'abc123', 'localhost:8787'), 'http://8080-my-box-abc123.localhost:8787/');
      assert.equal(formatPreviewUrl(8080, 'my-box', 'abc123', 'example.com'), 'https://8080-my-box-abc123.example.com/');
    });
    it('offers every split of a hyphenated label', () => {
      const routes = parsePreviewHost('8080-my-box-api-v1.example.com');
      assert.ok(routes.some((r) => r.sandboxId === 'my-box' && r.token === 'api-v1' && r.port === 8080));
      assert.deepEqual(parsePreviewHost('127.0.0.1:8787'), []);
      assert.deepEqual(parsePreviewHost('localhost:8787'), []);
    });
  });
  describe('SseParser', () => {
    it('reassembles messages split across chunks', () => {
      const text = formatSse({ id: '7', event: 'log', data: '{"a":1}' }) + formatSse({ id: '8', data: 'x\ny' });
      const p = new SseParser();
      const got = [...p.push(text.slice(0, 5)), ...p.push(text.slice(5, 20)), ...p.push(text.slice(20))];
      assert.deepEqual(got, [
        { id: '7', event: 'log', data: '{"a":1}' },
        { id: '8', data: 'x\ny' },
      ]);
      assert.equal(p.lastEventId, '8');
    });

    it('reads the JSON of an event only when it is the named event and the data is JSON', () => {
      assert.deepEqual(eventData({ event: 'log', data: '{"a":1}' }, 'log'), { a: 1 });
      assert.equal(eventData({ event: 'exit', data: '{"a":1}' }, 'log'), null);
      assert.equal(eventData({ event: 'log', data: 'not json' }, 'log'), null);
      assert.deepEqual(eventData({ event: 'exit', data: '{"b":2}' }), { b: 2 });
    });
  });
});
