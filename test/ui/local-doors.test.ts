/**
 * What a web page in the developer's browser can do to the local container host and an agent: in
 * a real headless Chromium, pages on a loopback origin, a `*.localhost` origin and a public origin
 * try every request a page can make without help (no-cors fetches with text/plain bodies, CORS
 * fetches, a guessed secret, a top-level form POST). Each one that reaches a listener gets 403,
 * and nothing runs, starts or changes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../helpers/workbench';
import { startHost, tempDir, type AgentState, type HostUnderTest } from '../helpers/agent-process';

const PUBLIC_ORIGIN = 'https://attacker.example';

/**
 * The attacking page's script (plain JavaScript, as a page would carry it): every request a page
 * can send on its own; it leaves in `window.seen` what the page could read of each answer.
 */
function attackPage(args: { agentUrl: string; hostUrl: string; marker: string }): string {
  return `<!doctype html><title>attacker</title><script>
const args = ${JSON.stringify(args)};
const seen = {};
async function attempt(name, url, init) {
  try {
    const res = await fetch(url, init);
    seen[name] = res.type === 'opaque' ? 'opaque' : res.status + ' ' + (await res.text());
  } catch (err) {
    seen[name] = 'blocked: ' + err;
  }
}
const exec = (n) => JSON.stringify({ command: 'touch ' + args.marker + '-' + n });
(async () => {
  await attempt('agent no-cors text/plain', args.agentUrl + '/exec', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: exec(1) });
  await attempt('agent no-cors start', args.agentUrl + '/processes', { method: 'POST', mode: 'no-cors', body: exec(2) });
  await attempt('agent cors json', args.agentUrl + '/exec', { method: 'POST', headers: { 'content-type': 'application/json' }, body: exec(3) });
  await attempt('agent guessed secret', args.agentUrl + '/exec', { method: 'POST', headers: { 'x-sandbox-secret': 'guess' }, body: exec(4) });
  await attempt('agent read health', args.agentUrl + '/health', {});
  const evilEnv = JSON.stringify({ env: { NODE_OPTIONS: "--eval=require('fs').writeFileSync('" + args.marker + "-5','x')" } });
  await attempt('host no-cors start', args.hostUrl + '/containers/evil-box/start', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: evilEnv });
  await attempt('host read state', args.hostUrl + '/containers/evil-box', {});
  window.seen = seen;
})();
</script>`;
}

/** Submits a top-level text/plain form whose body reads as JSON, as a page from anywhere can. */
function formPost(action: string, json: string): string {
  const split = json.lastIndexOf('}');
  // text/plain forms send name=value: the name carries the JSON up to a dummy field, `=` lands inside it.
  const name = `${json.slice(0, split)},"pad":"`;
  return `<form id="f" method="POST" enctype="text/plain" action="${action}"><input name='${name}' value='"}'></form>
<script>document.getElementById('f').submit()</script>`;
}

for (const mode of ['namespaces', 'none'] as const)
  describe(`local doors against a real browser (headless Chromium), isolation ${mode}`, function () {
    this.timeout(120000);
    let host: HostUnderTest;
    let agent: AgentState;
    /**
     * The port a page would find for the agent: the agent's own (plain processes), or the host's
     * port relay, the one way to an isolated sandbox's agent.
     */
    let agentDoor: number;
    let browser: Browser;
    let pages: http.Server;
    let pagesPort: number;
    let markers: string;
    /** Status of every answer the listeners sent the browser, by "METHOD url". */
    const answered: Array<{ what: string; status: number }> = [];

    before(async () => {
      markers = tempDir('browser-markers');
      host = await startHost({ SANDBOX_ISOLATION: mode });
      agent = await host.client.ok('POST', '/containers/door-box/start', {});
      agentDoor = agent.relayPort ?? agent.port;
      // The attacking pages' own server: whatever page the test puts in `pageHtml`.
      pages = http.createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(pageHtml);
      });
      await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
      pagesPort = (pages.address() as AddressInfo).port;
      browser = await launchChromium();
    });
    after(async () => {
      await browser?.close();
      pages?.close();
      await host?.stop();
      fs.rmSync(markers, { recursive: true, force: true });
    });

    let pageHtml = '';

    /**
     * A browser context where the public origin is served by the test (there is no network) and
     * every other non-loopback request is dropped; answers from the listeners are recorded.
     */
    async function attackerContext(): Promise<BrowserContext> {
      const context = await browser.newContext();
      await context.route('**/*', (route) => {
        const url = new URL(route.request().url());
        if (url.origin === PUBLIC_ORIGIN) return route.fulfill({ status: 200, contentType: 'text/html', body: pageHtml });
        const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname.endsWith('.localhost');
        return loopback ? route.continue() : route.abort();
      });
      context.on('response', (res) => {
        const port = Number(new URL(res.url()).port);
        if (port === host.port || port === agentDoor) answered.push({ what: `${res.request().method()} ${res.url()}`, status: res.status() });
      });
      return context;
    }

    async function openAttacker(origin: string): Promise<Page> {
      const page = await (await attackerContext()).newPage();
      await page.goto(origin);
      return page;
    }

    async function assertNothingHappened(): Promise<void> {
      assert.deepEqual(fs.readdirSync(markers), [], 'no command ran, no agent ran the page’s code');
      assert.deepEqual(await host.client.ok('GET', '/containers/evil-box'), { running: false }, 'no agent was started');
      assert.deepEqual((await host.client.ok('GET', '/containers/door-box')).port, agent.port, 'the real agent is untouched');
    }

    // Chromium itself stops a public page's fetches to loopback (Local Network Access); pages on
    // loopback origins get through to the listeners, so there the door is what stops them.
    for (const [label, originOf, fetchesReach] of [
      ['a loopback origin (another dev server)', () => `http://127.0.0.1:${pagesPort}/`, true],
      ['a *.localhost origin (a preview URL)', () => `http://8080-box-tok.localhost:${pagesPort}/`, true],
      ['a public origin', () => `${PUBLIC_ORIGIN}/`, false],
    ] as const) {
      it(`refuses every request from a page on ${label}`, async () => {
        answered.length = 0;
        pageHtml = attackPage({ agentUrl: `http://127.0.0.1:${agentDoor}`, hostUrl: `http://localhost:${host.port}`, marker: path.join(markers, 'pwned') });
        const page = await openAttacker(originOf());
        await page.waitForFunction('window.seen !== undefined', undefined, { timeout: 60000 });
        const seen = (await page.evaluate('window.seen')) as Record<string, string>;
        await page.context().close();
        // The page could read nothing: opaque answers, or CORS failures.
        for (const [name, what] of Object.entries(seen)) assert.ok(what === 'opaque' || what.startsWith('blocked'), `${name}: ${what}`);
        // Whatever reached a listener was refused there.
        if (fetchesReach) assert.ok(answered.length > 0, `some requests reached the listeners: ${JSON.stringify(seen)}`);
        for (const a of answered) assert.equal(a.status, 403, a.what);
        await assertNothingHappened();
      });

      it(`refuses a top-level text/plain form POST from a page on ${label}`, async () => {
        for (const [target, body] of [
          [`http://127.0.0.1:${agentDoor}/exec`, JSON.stringify({ command: `touch ${path.join(markers, 'form')}` })],
          [`http://127.0.0.1:${host.port}/containers/evil-box/start`, JSON.stringify({ env: {} })],
        ] as const) {
          pageHtml = formPost(target, body);
          const context = await attackerContext();
          const page = await context.newPage();
          const answer = page.waitForResponse((res) => res.url() === target, { timeout: 30000 });
          await page.goto(originOf());
          const res = await answer;
          assert.equal(res.status(), 403, target);
          assert.match(await res.text(), /LOCAL_ACCESS_DENIED/);
          await context.close();
        }
        await assertNothingHappened();
      });
    }
  });
