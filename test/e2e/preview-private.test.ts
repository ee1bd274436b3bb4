import assert from 'node:assert/strict';
import http from 'node:http';
import { Api } from '../helpers/api';
import { previewRequest } from '../helpers/preview-client';
import { sandboxWithEcho, startEcho } from '../helpers/services';
import type { Stack } from '../helpers/stack';

/** visibility: 'private' (SPEC 2.3): bearer token, or a single-use ticket link that sets a cookie. */
describe('preview URLs › private previews', function () {
  this.timeout(60000);
  let stack: Stack;
  let api: Api;
  let box: string;
  let url: string;
  let otherUrl: string;
  let port: number;

  before(async function () {
    this.timeout(120000);
    ({ stack, api, box, port } = await sandboxWithEcho('priv'));
    const other = (await startEcho(api, box)).port;
    url = (await api.ok('POST', `/sandboxes/${box}/ports`, { port, visibility: 'private', token: 'secret' })).url;
    otherUrl = (await api.ok('POST', `/sandboxes/${box}/ports`, { port: other, visibility: 'private' })).url;
  });

  const ticket = async (p = port) => (await api.ok('POST', `/sandboxes/${box}/ports/${p}/ticket`)).url as string;
  const cookieOf = (setCookie: string[] | undefined) => (setCookie ?? [])[0]!.split(';')[0]!;

  it('answers 401 PREVIEW_AUTH_REQUIRED without credentials', async () => {
    const r = await previewRequest(`${url}echo`);
    assert.equal(r.status, 401);
    assert.equal(r.json().code, 'PREVIEW_AUTH_REQUIRED');
    const wrong = await previewRequest(`${url}echo`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401);
  });

  it('accepts the control API bearer token, and does not pass it to the service', async () => {
    const r = await previewRequest(`${url}echo`, { headers: { authorization: `Bearer ${stack.token}` } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json().headers.authorization, undefined);
  });

  it('exchanges a ticket for an HttpOnly cookie on that host and redirects to the clean URL', async () => {
    const link = await ticket();
    assert.match(link, new RegExp(`^${url.replace(/[.]/g, '\\.')}\\?__sandbox_ticket=[A-Za-z0-9_-]+$`));
    const r = await previewRequest(link.replace('/?', '/deep/path?keep=1&'));
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, '/deep/path?keep=1');
    const setCookie = r.headers['set-cookie']![0]!;
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /Path=\//);
    assert.doesNotMatch(setCookie, /Domain=/i, 'host-only: no other host gets it');
    const page = await previewRequest(`${url}echo`, { headers: { cookie: `${cookieOf(r.headers['set-cookie'])}; theirs=1` } });
    assert.equal(page.status, 200, page.text);
    assert.equal(page.json().headers.cookie, 'theirs=1', 'the preview cookie stays with the proxy');
  });

  it('never redirects off the preview host, whatever the path of the ticket link', async () => {
    for (const rawPath of ['//evil.example/', '/\\evil.example/', '///evil.example/x', '/%2F%2Fevil.example/']) {
      const link = new URL(await ticket());
      const r = await new Promise<{ status: number; location: string | undefined }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: Number(link.port), path: `${rawPath}${link.search}`, headers: { host: link.host } }, (res) => {
          res.resume();
          resolve({ status: res.statusCode!, location: res.headers.location });
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(r.status, 302, rawPath);
      assert.ok(r.location?.startsWith('/') && !/^\/[/\\]/.test(r.location), `${rawPath} → Location ${r.location}`);
    }
  });

  it('refuses a ticket used twice', async () => {
    const link = await ticket();
    assert.equal((await previewRequest(link)).status, 302);
    const again = await previewRequest(link);
    assert.equal(again.status, 401);
    assert.match(again.json().error, /expired or was already used/);
  });

  it('refuses an expired ticket', async function () {
    this.timeout(20000);
    const link = await ticket();
    const { expiresAt } = await api.ok('POST', `/sandboxes/${box}/ports/${port}/ticket`);
    await new Promise((r) => setTimeout(r, Date.parse(expiresAt) - Date.now() + 300));
    assert.equal((await previewRequest(link)).status, 401);
  });

  it('refuses a ticket for another port, and a cookie for one preview does not open another', async () => {
    const mine = await previewRequest(await ticket());
    const cookie = cookieOf(mine.headers['set-cookie']);
    const other = await previewRequest(`${otherUrl}echo`, { headers: { cookie } });
    assert.equal(other.status, 401);
    const crossTicket = (await ticket()).replace(url, otherUrl);
    assert.equal((await previewRequest(crossTicket)).status, 401);
  });

  it('stops accepting an old cookie once the URL gets a new token', async () => {
    const r = await previewRequest(await ticket());
    const cookie = cookieOf(r.headers['set-cookie']);
    const next = (await api.ok('POST', `/sandboxes/${box}/ports`, { port, visibility: 'private', token: 'secret2' })).url;
    assert.equal((await previewRequest(`${next}echo`, { headers: { cookie } })).status, 401);
  });

  it('answers 404 for a ticket on a port that is not exposed', async () => {
    const r = await api.call('POST', `/sandboxes/${box}/ports/40404/ticket`);
    assert.equal(r.status, 404);
  });
});
