import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { checkDoor, hostName } from '../../container/http/local-door';
import { LOCAL_SECRET_HEADER } from '../../worker/protocol/agent';
import { SandboxError } from '../../worker/protocol/errors';

const SECRET = 's3cret-for-this-run-only';
const good: IncomingHttpHeaders = { host: '127.0.0.1:4100', [LOCAL_SECRET_HEADER]: SECRET };

/** The refusal's message; `secret` null stands for a listener without one. */
function refusal(method: string, headers: IncomingHttpHeaders, secret: string | null = SECRET): string {
  try {
    checkDoor(method, headers, secret ?? undefined);
  } catch (err) {
    assert.ok(err instanceof SandboxError);
    assert.equal(err.code, 'LOCAL_ACCESS_DENIED');
    assert.equal(err.status, 403);
    return err.message;
  }
  assert.fail(`${method} ${JSON.stringify(headers)} was let in`);
}

describe('local door (container/local-door.ts)', () => {
  describe('checkDoor', () => {
    it('lets in the Worker: loopback Host, the secret, JSON or octet-stream bodies', () => {
      checkDoor('GET', good, SECRET);
      checkDoor('GET', { ...good, host: 'localhost:9' }, SECRET);
      checkDoor('GET', { ...good, host: '[::1]:9' }, SECRET);
      checkDoor('POST', { ...good, 'content-type': 'application/json; charset=utf-8', 'content-length': '12' }, SECRET);
      checkDoor('PUT', { ...good, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' }, SECRET);
      checkDoor('DELETE', { ...good, 'content-length': '0' }, SECRET);
    });

    it('refuses anything a browser page sends, whatever else it carries', () => {
      assert.match(refusal('POST', { ...good, origin: 'http://127.0.0.1:5173' }), /web pages.*origin: http:\/\/127\.0\.0\.1:5173/);
      assert.match(refusal('GET', { ...good, origin: 'null' }), /origin: null/);
      assert.match(refusal('GET', { ...good, 'sec-fetch-site': 'cross-site' }), /sec-fetch-site: cross-site/);
      assert.match(refusal('GET', { ...good, 'sec-fetch-site': 'none' }), /sec-fetch-site/);
      assert.match(refusal('OPTIONS', { host: '127.0.0.1:1', origin: 'https://evil.example', 'access-control-request-method': 'POST' }), /web pages/);
    });

    it('refuses a Host that is not a loopback name (DNS rebinding) or is malformed', () => {
      for (const host of ['evil.example:4100', 'evil.example', '127.0.0.1.nip.io:1', 'localhost.evil:1', '127.0.0.1:1:2', '', 'a b']) {
        assert.match(refusal('GET', { ...good, host }), /Host .* is refused: only loopback names/, host);
      }
      assert.match(refusal('GET', { [LOCAL_SECRET_HEADER]: SECRET }), /Host "" is refused/);
    });

    it('refuses a missing or wrong secret, saying which', () => {
      assert.match(refusal('GET', { host: '127.0.0.1:1' }), /x-sandbox-secret header is missing/);
      assert.match(refusal('GET', { ...good, [LOCAL_SECRET_HEADER]: '' }), /missing/);
      assert.match(refusal('GET', { ...good, [LOCAL_SECRET_HEADER]: SECRET + 'x' }), /does not match/);
      assert.match(refusal('GET', { ...good, [LOCAL_SECRET_HEADER]: 'S3CRET-FOR-THIS-RUN-ONLY' }), /does not match/);
    });

    it('refuses bodies a page could send without a preflight, and bodies without a type', () => {
      for (const type of ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
        assert.match(refusal('POST', { ...good, 'content-type': type, 'content-length': '5' }), /must be application\/json/, type);
      }
      assert.match(refusal('POST', { ...good, 'content-length': '5' }), /not "none"/);
      assert.match(refusal('POST', { ...good, 'transfer-encoding': 'chunked' }), /must be application\/json/);
    });

    it('without a secret (inside a container) keeps only the browser and body checks', () => {
      checkDoor('GET', { host: 'agent' }, undefined);
      checkDoor('POST', { host: 'container:3000', 'content-type': 'application/json', 'content-length': '2' }, undefined);
      assert.match(refusal('GET', { host: 'agent', origin: 'https://evil.example' }, null), /web pages/);
      assert.match(refusal('POST', { host: 'agent', 'content-type': 'text/plain', 'content-length': '2' }, null), /application\/json/);
    });
  });

  describe('hostName', () => {
    it('takes the name off a Host header, brackets kept for IPv6', () => {
      assert.equal(hostName('127.0.0.1:8787'), '127.0.0.1');
      assert.equal(hostName('LOCALHOST'), 'localhost');
      assert.equal(hostName('[::1]:3000'), '[::1]');
      assert.equal(hostName('a:b:c'), null);
      assert.equal(hostName('x:99999999'), null);
    });
  });
});
