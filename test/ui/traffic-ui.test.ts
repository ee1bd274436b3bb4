/**
 * The traffic inspector in the browser workbench, driven as a person would in headless Chromium:
 * expose a port from the tree, open "Inspect Traffic" from its row, send requests with curl and
 * watch them appear live in the webview, filter, open one, replay it and see the replay appear,
 * copy one as curl and run what was copied. Screenshots go to test-output/ui/.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Frame, Locator, Page } from 'playwright-core';
import { Api } from '../helpers/api';
import { logFile, newStack, type Stack } from '../helpers/stack';
import { installVsix, openBrowser, startWorkbench, workbenchUrl, type BrowserSession, type Workbench } from '../helpers/workbench';
import { answer, frameWith, runCommand } from '../helpers/workbench-ui';
// @ts-expect-error plain ESM module without types
import { freePort } from '../../scripts/stack.mjs';

const outDir = path.resolve('test-output', 'ui');
const VSIX = path.resolve('sandbox-ports.vsix');
const run = promisify(execFile);

describe('Traffic inspector UI (packaged .vsix in a real workbench)', function () {
  this.timeout(180_000);
  let stack: Stack;
  let wb: Workbench;
  let browser: BrowserSession;
  let page: Page;
  let inspector: Frame;
  let api: Api;
  let port: number;
  let url: string;
  const sandboxId = `tui-${Date.now().toString(36)}`;
  const shot = (name: string) => page.screenshot({ path: path.join(outDir, `${name}.png`) });
  const curl = async (target: string, ...args: string[]) => (await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', ...args, target])).stdout;
  const row = (text: string) => inspector.locator('#rows tr', { hasText: text });
  /**
   * Right-clicks `target` and picks the menu item (hovered first: a menu takes no click while it
   * opens). A menu that is still open after the click did not run the item (running it closes the
   * menu). Such a click was lost in two runs in a row (the item left highlighted, the menu open),
   * so the item is then picked again with Enter, twice at most.
   */
  async function menuItem(target: Locator, label: RegExp): Promise<void> {
    await target.click({ button: 'right' });
    const item = page.locator('.monaco-menu .action-item', { hasText: label }).first();
    const menu = page.locator('.monaco-menu');
    await item.waitFor();
    await item.hover();
    await item.click();
    for (let again = 0; ; again++) {
      const closed = await menu.waitFor({ state: 'hidden', timeout: 5000 }).then(
        () => true,
        () => false,
      );
      if (closed) return;
      assert.ok(again < 2, `the menu item ${label} did not run: the menu stayed open`);
      await item.hover();
      await page.keyboard.press('Enter');
    }
  }

  before(async function () {
    assert.ok(fs.existsSync(VSIX), 'run `npm run package` first (npm run test:ui does)');
    fs.mkdirSync(outDir, { recursive: true });
    stack = await newStack();
    api = new Api(stack.url, stack.token);
    port = (await freePort()) as number;
    await api.ok('POST', '/sandboxes', { id: sandboxId });
    const proc = await api.ok('POST', `/sandboxes/${sandboxId}/processes`, {
      command: `mkdir -p site && echo '{"items":[1,2,3]}' > site/items.json && cd site && exec python3 -u -m http.server ${port} --bind 0.0.0.0`,
    });
    await api.ok('POST', `/sandboxes/${sandboxId}/processes/${proc.id}/wait-for-port`, { port });
    wb = await startWorkbench({
      settings: { 'sandboxPorts.onPortDetected': 'ignore', 'sandboxPorts.openOnExpose': false },
      log: logFile('vscode-server-traffic-ui'),
      testDriver: false,
    });
    await installVsix(wb, VSIX);
    browser = await openBrowser();
    page = browser.page;
    await page.goto(workbenchUrl(wb));
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await page.locator('.activitybar [aria-label^="Sandboxes"]').first().click();
    await runCommand(page, 'Sandbox Ports: Connect to Worker…');
    await answer(page, 'Connect to Worker (1/2)', stack.url);
    await answer(page, 'Connect to Worker (2/2)', stack.token);
    await page
      .locator('.monaco-list-row', { hasText: String(port) })
      .first()
      .waitFor({ timeout: 30_000 });
  });

  after(async function () {
    if (page) await shot('traffic-final').catch(() => {});
    await browser?.close().catch(() => {});
    await wb?.stop();
  });

  it('opens "Inspect Traffic" from an exposed port\'s row, in an editor tab', async () => {
    const portRow = page.locator('.monaco-list-row', { hasText: String(port) }).last();
    await menuItem(portRow, /^Expose Port$/);
    const exposedRow = page.locator('.monaco-list-row', { hasText: `${port}-${sandboxId}-` }).first();
    await exposedRow.waitFor({ timeout: 30_000 });
    url = (await api.ok('GET', `/sandboxes/${sandboxId}/ports`)).ports.find((p: { port: number }) => p.port === port).url;
    // The inline icon is there; the context menu opens it.
    await exposedRow.hover();
    assert.ok(await exposedRow.locator('.action-label[aria-label="Inspect Traffic"]').isVisible(), 'an inline Inspect Traffic icon');
    await menuItem(exposedRow, /^Inspect Traffic$/);
    await page
      .locator('.tab', { hasText: `Traffic: ${port}` })
      .first()
      .waitFor({ timeout: 30_000 });
    inspector = await frameWith(page, '#rows');
    await inspector.locator('#state', { hasText: 'Live' }).waitFor({ timeout: 30_000 });
    assert.match(await inspector.locator('#empty').innerText(), /No requests yet/);
    assert.match(await inspector.locator('#url').innerText(), new RegExp(`${port}-${sandboxId}-`));
  });

  it('shows requests sent with curl as they happen, with method, path, status and size', async () => {
    assert.equal(await curl(`${url}items.json?page=2`), '200');
    assert.equal(await curl(`${url}nope.txt`), '404');
    assert.equal(await curl(`${url}items.json`, '-X', 'POST', '-H', 'content-type: application/json', '--data-raw', '{"add":4}'), '501');
    await row('/items.json?page=2').waitFor({ timeout: 15_000 });
    await row('/nope.txt').waitFor({ timeout: 15_000 });
    await row('POST').waitFor({ timeout: 15_000 });
    const cells = (await row('/items.json?page=2').locator('td').allInnerTexts()).map((t) => t.trim());
    assert.deepEqual(cells.slice(1, 4), ['GET', '/items.json?page=2', '200']);
    assert.match(cells[5]!, /^\d+ B$/);
    assert.match((await row('/nope.txt').locator('td.status').getAttribute('class')) ?? '', /tone-client-error/);
    // The newest first.
    assert.match(await inspector.locator('#rows tr').first().innerText(), /POST/);
    // The tree's row counts them.
    await page
      .locator('.monaco-list-row', { hasText: /3 requests, last 501/ })
      .first()
      .waitFor({ timeout: 15_000 });
    await shot('traffic-1-live');
  });

  it('filters by method, status class and text', async () => {
    await inspector.locator('#status').selectOption('4xx');
    assert.deepEqual(await inspector.locator('#rows tr td.path').allInnerTexts(), ['/nope.txt']);
    await inspector.locator('#status').selectOption('all');
    await inspector.locator('#method').selectOption('POST');
    assert.equal(await inspector.locator('#rows tr').count(), 1);
    await inspector.locator('#method').selectOption('all');
    await inspector.locator('#text').fill('page=2');
    assert.deepEqual(await inspector.locator('#rows tr td.path').allInnerTexts(), ['/items.json?page=2']);
    assert.match(await inspector.locator('#count').innerText(), /1 of 3 requests/);
    await inspector.locator('#text').fill('');
  });

  it('opens a request: headers, the JSON body pretty-printed, timing', async () => {
    await row('/items.json?page=2').click();
    const detail = inspector.locator('#detail');
    await detail.locator('.detail-path', { hasText: '/items.json?page=2' }).waitFor({ timeout: 15_000 });
    assert.match(await detail.innerText(), /headers after \d+ ms, done after \d+ ms/);
    assert.match(await detail.locator('table.headers').first().innerText(), /user-agent\s+curl\//);
    assert.equal(await detail.locator('pre.body.json').innerText(), JSON.stringify({ items: [1, 2, 3] }, null, 2));
    await shot('traffic-2-detail');
  });

  it('replays it: the service gets it again and the replay appears, linked to the first', async () => {
    const before = await inspector.locator('#rows tr').count();
    await inspector.locator('#replay').click();
    await inspector.locator('#notice', { hasText: /Replayed #\d+: the service answered 200/ }).waitFor({ timeout: 15_000 });
    await inspector.locator('#rows tr', { hasText: /replay of #\d+/ }).waitFor({ timeout: 15_000 });
    assert.equal(await inspector.locator('#rows tr').count(), before + 1);
    // The replay is selected, and says what it replayed.
    await inspector.locator('#detail', { hasText: 'Replay of' }).waitFor({ timeout: 15_000 });
    const logs = await api.ok('GET', `/sandboxes/${sandboxId}/processes`);
    const server = logs.processes.find((p: { command: string }) => p.command.includes('http.server'));
    const out = await api.ok('GET', `/sandboxes/${sandboxId}/processes/${server.id}/logs`);
    assert.equal((`${out.stdout}${out.stderr}`.match(/GET \/items\.json\?page=2/g) ?? []).length, 2, 'the service got it twice');
    await shot('traffic-3-replayed');
  });

  it('copies a request as a curl command that runs as it is', async () => {
    await row('POST').click();
    await inspector.locator('#detail .detail-path', { hasText: '/items.json' }).waitFor({ timeout: 15_000 });
    await inspector.locator('#copy-curl').click();
    await inspector.locator('#notice', { hasText: /Copied request #\d+ as a curl command/ }).waitFor({ timeout: 15_000 });
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.match(copied, /^curl -X POST|^curl '/);
    assert.match(copied, /--data-raw '\{"add":4\}'/);
    await run('sh', ['-c', `${copied} -s -o /dev/null`]);
    await row('POST').nth(1).waitFor({ timeout: 15_000 });
  });

  it('clears, and says plainly when the exposure ended', async () => {
    await inspector.locator('#clear').click();
    await inspector.locator('#empty', { hasText: 'No requests yet' }).waitFor({ timeout: 15_000 });
    assert.equal(await inspector.locator('#rows tr').count(), 0);
    await api.ok('DELETE', `/sandboxes/${sandboxId}/ports/${port}`);
    await inspector.locator('#state', { hasText: 'Ended' }).waitFor({ timeout: 15_000 });
    assert.match(await inspector.locator('#banner').innerText(), /exposure ended/);
    await shot('traffic-4-ended');
  });
});
