/**
 * The Sandbox Durable Object's pure parts in plain Node (issue 12 point 1): the exposure rules
 * and the private-preview credentials. The store and the live state have files of their own.
 */
import assert from 'node:assert/strict';
import { ErrorCode, SandboxError } from '../../worker/protocol/index';
import { isExpired, listExposed, planExpose, rotateGeneratedTokens, type ExposeContext, type ExposureMap } from '../../worker/sandbox/exposures';
import { COOKIE_TTL_MS, newTicketId, previewCookieHeader, readCookie, signPreviewCookie, ticketTtlMs, verifyPreviewCookie } from '../../worker/sandbox/preview-auth';

const NOW = Date.parse('2026-11-29T12:00:00.000Z');
let minted = 0;
const ctx = (extra: Partial<ExposeContext> = {}): ExposeContext => ({
  sandboxId: 'my-box',
  defaultHostname: 'localhost:8787',
  now: NOW,
  generation: 1,
  newToken: () => `gen${String(++minted).padStart(4, '0')}`,
  ...extra,
});

function refused(fn: () => unknown, code: ErrorCode, message: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof SandboxError && err.code === code && message.test(err.message));
}

describe('sandbox parts', () => {
  describe('exposure rules', () => {
    it('a first expose makes a generated token and a local http URL; the same call again changes nothing', () => {
      const first = planExpose({}, 8080, undefined, ctx());
      assert.equal(first.changed, true);
      assert.match(first.exposure.token, /^gen\d{4}$/);
      assert.equal(first.exposure.custom, false);
      const again = planExpose({ '8080': first.exposure }, 8080, undefined, ctx());
      assert.equal(again.changed, false);
      assert.equal(again.exposure.token, first.exposure.token);
      assert.deepEqual(
        listExposed({ '8080': first.exposure }, 'my-box', NOW).map((p) => p.url),
        [`http://8080-my-box-${first.exposure.token}.localhost:8787/`],
      );
    });

    it('a string option is the name; visibility and name change without a new token; null clears the name', () => {
      const named = planExpose({}, 8080, 'web', ctx()).exposure;
      assert.equal(named.name, 'web');
      const priv = planExpose({ '8080': named }, 8080, { visibility: 'private' }, ctx()).exposure;
      assert.equal(priv.token, named.token);
      assert.equal(priv.name, 'web', 'an absent name keeps the old one');
      const cleared = planExpose({ '8080': priv }, 8080, { name: null, visibility: 'private' }, ctx()).exposure;
      assert.equal(cleared.name, undefined);
      assert.equal(cleared.token, named.token);
    });

    it('a different custom token replaces the URL; a token another port uses is refused', () => {
      const a = planExpose({}, 8080, { token: 'api' }, ctx()).exposure;
      const plan = planExpose({ '8080': a }, 8080, { token: 'api2' }, ctx());
      assert.equal(plan.replaced?.token, 'api');
      refused(() => planExpose({ '8080': a }, 9000, { token: 'api' }, ctx()), ErrorCode.TOKEN_CONFLICT, /Token 'api' is already in use by port 8080/);
    });

    it('refuses bad ports, tokens, ttls and hostnames with the rule', () => {
      refused(() => planExpose({}, 3000, undefined, ctx()), ErrorCode.RESERVED_PORT, /Port 3000 is reserved/);
      refused(() => planExpose({}, 80, undefined, ctx()), ErrorCode.INVALID_PORT, /1024-65535/);
      refused(() => planExpose({}, 8080, { token: 'Bad Token' }, ctx()), ErrorCode.INVALID_TOKEN_FORMAT, /Invalid token/);
      assert.throws(() => planExpose({}, 8080, { ttl: 'soon' }, ctx()), SandboxError);
      assert.throws(() => planExpose({}, 8080, { hostname: 'x.workers.dev' }, ctx()), SandboxError);
      refused(() => planExpose({}, 8080, undefined, ctx({ defaultHostname: undefined })), ErrorCode.INVALID_HOSTNAME, /No hostname/);
    });

    it('a ttl sets an expiry; expired exposures leave the list', () => {
      const e = planExpose({}, 8080, { ttl: '30m' }, ctx()).exposure;
      assert.equal(e.expiresAt, new Date(NOW + 30 * 60_000).toISOString());
      assert.equal(isExpired(e, NOW + 30 * 60_000 - 1), false);
      assert.equal(isExpired(e, NOW + 30 * 60_000), true);
      assert.deepEqual(listExposed({ '8080': e }, 'my-box', NOW + 31 * 60_000), []);
    });

    it('a new container run replaces generated tokens of earlier runs and keeps custom ones', () => {
      const map: ExposureMap = {
        '8080': planExpose({}, 8080, undefined, ctx({ generation: 1 })).exposure,
        '9000': planExpose({}, 9000, { token: 'mine' }, ctx({ generation: 1 })).exposure,
      };
      const { next, rotated } = rotateGeneratedTokens(map, 2, () => 'fresh');
      assert.deepEqual(
        rotated.map((e) => e.port),
        [8080],
      );
      assert.equal(next['8080']!.token, 'fresh');
      assert.equal(next['9000']!.token, 'mine');
      assert.equal(rotateGeneratedTokens(next, 2, () => 'again').rotated.length, 0, 'the same run rotates nothing');
    });
  });

  describe('private-preview credentials', () => {
    const scope = { sandboxId: 'my-box', port: 8080, token: 'tok' };

    it('a signed cookie verifies for its own scope only, until it expires', async () => {
      const value = await signPreviewCookie('secret', scope, NOW);
      assert.equal(await verifyPreviewCookie('secret', scope, value, NOW + 1000), true);
      assert.equal(await verifyPreviewCookie('other', scope, value, NOW + 1000), false, 'another API token');
      assert.equal(await verifyPreviewCookie('secret', { ...scope, port: 8081 }, value, NOW + 1000), false, 'another port');
      assert.equal(await verifyPreviewCookie('secret', { ...scope, token: 'tok2' }, value, NOW + 1000), false, 'another exposure');
      assert.equal(await verifyPreviewCookie('secret', scope, value, NOW + COOKIE_TTL_MS), false, 'expired');
      const [exp, mac] = value.split('.');
      assert.equal(await verifyPreviewCookie('secret', scope, `${Number(exp) + 1000}.${mac}`, NOW), false, 'a longer life cannot be forged');
      assert.equal(await verifyPreviewCookie('secret', scope, 'garbage', NOW), false);
    });

    it('reads one cookie from a header, sets it for the preview host only, and makes unguessable ticket ids', () => {
      assert.equal(readCookie('a=1; __sandbox_preview=xyz; b=2', '__sandbox_preview'), 'xyz');
      assert.equal(readCookie('a=1', '__sandbox_preview'), null);
      assert.equal(readCookie(null, '__sandbox_preview'), null);
      const header = previewCookieHeader('v');
      assert.match(header, /HttpOnly; Secure; SameSite=None; Partitioned/);
      assert.doesNotMatch(header, /Domain=/i);
      const ids = new Set(Array.from({ length: 100 }, () => newTicketId()));
      assert.equal(ids.size, 100);
      for (const id of ids) assert.match(id, /^[A-Za-z0-9_-]{32}$/);
      assert.equal(ticketTtlMs(undefined), 60_000);
      assert.equal(ticketTtlMs('4000'), 4000);
      assert.equal(ticketTtlMs('-5'), 60_000);
    });
  });
});
