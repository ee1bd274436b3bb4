/**
 * The packaged .vsix installed in a real VS Code workbench, driven like a person would in headless
 * Chromium: connect from the command palette, open the Sandboxes view, right-click a detected
 * port → "Expose Port…", answer the questions, and read the preview URL off the status bar.
 * Screenshots go to test-output/ui/.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { Api } from '../helpers/api';
import { logFile, newStack, type Stack } from '../helpers/stack';
import { installVsix, openBrowser, startWorkbench, workbenchUrl, type BrowserSession, type Workbench } from '../helpers/workbench';
import { answer as answerUi, runCommand as runUiCommand } from '../helpers/workbench-ui';
// @ts-expect-error plain ESM module without types
import { freePort } from '../../scripts/stack.mjs';

const outDir = path.resolve('test-output', 'ui');
const VSIX = path.resolve('sandbox-ports.vsix');

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(outDir, `${name}.png`) });
}

describe('Sandbox Ports UI (packaged .vsix in a real workbench)', function () {
  this.timeout(180_000);
  let stack: Stack;
  let wb: Workbench;
  let browser: BrowserSession;
  let page: Page;
  const sandboxId = `ui-${Date.now().toString(36)}`;
  let port: number;
  let api: Api;

  before(async function () {
    assert.ok(fs.existsSync(VSIX), 'run `npm run package` first (npm run test:ui does)');
    fs.mkdirSync(outDir, { recursive: true });
    stack = await newStack();
    port = (await freePort()) as number;
    // The sandbox and its service come from the API: this test is about the UI around them.
    api = new Api(stack.url, stack.token);
    await api.ok('POST', '/sandboxes', { id: sandboxId });
    const proc = await api.ok('POST', `/sandboxes/${sandboxId}/processes`, {
      command: `mkdir -p site && echo ui-test-page > site/index.html && cd site && exec python3 -u -m http.server ${port} --bind 0.0.0.0`,
    });
    await api.ok('POST', `/sandboxes/${sandboxId}/processes/${proc.id}/wait-for-port`, { port });
    // No smoke test driver: it refuses modal dialogs, and a person answers them here.
    wb = await startWorkbench({ settings: { 'sandboxPorts.onPortDetected': 'notify' }, log: logFile('vscode-server-ui'), testDriver: false });
    await installVsix(wb, VSIX);
    browser = await openBrowser();
    page = browser.page;
    await page.goto(workbenchUrl(wb));
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await page.locator('.activitybar').waitFor();
  });

  it('carries the local runtime, so Start Local Server needs nothing from a registry but workerd', () => {
    // A zip names its files in plain bytes; `npm run package` (pack-local.mjs --for-vsix) puts it there.
    assert.match(fs.readFileSync(VSIX).toString('latin1'), /extension\/dist\/local\/sandbox-ports-local-\d+\.\d+\.\d+-[0-9a-f]{10}\.tgz/);
  });

  after(async function () {
    if (page) await shot(page, 'final').catch(() => {});
    await browser?.close().catch(() => {});
    await wb?.stop();
  });

  const runCommand = (title: string) => runUiCommand(page, title);
  const answer = (title: string, text: string | null, pickRow?: string) => answerUi(page, title, text, pickRow);

  it('shows the Sandboxes view in the activity bar, with the welcome buttons when not connected', async () => {
    await page.locator('.activitybar [aria-label^="Sandboxes"]').first().click();
    await page.locator('.welcome-view-content', { hasText: 'Not connected' }).waitFor({ timeout: 30_000 });
    assert.ok(await page.locator('.welcome-view-content a.monaco-button', { hasText: 'Connect…' }).isVisible());
    assert.ok(await page.locator('.welcome-view-content a.monaco-button', { hasText: 'Start Local Server' }).isVisible());
    await shot(page, '1-welcome');
  });

  it('connects from the command palette and renders the tree', async () => {
    await runCommand('Sandbox Ports: Connect to Worker…');
    await answer('Connect to Worker (1/2)', stack.url);
    await answer('Connect to Worker (2/2)', stack.token);
    const sandboxRow = page.locator('.monaco-list-row', { hasText: sandboxId });
    await sandboxRow.first().waitFor({ timeout: 30_000 });
    await page.locator('.monaco-list-row', { hasText: 'mkdir -p site' }).first().waitFor();
    await page
      .locator('.monaco-list-row', { hasText: String(port) })
      .first()
      .waitFor({ timeout: 30_000 });
    assert.match((await sandboxRow.first().innerText()).replace(/\s+/g, ' '), /running/);
    await shot(page, '2-tree');
  });

  it('shows a listening process with its port once, under it', async () => {
    const processRow = page.locator('.monaco-list-row', { hasText: 'mkdir -p site' }).first();
    assert.equal(await processRow.getAttribute('aria-expanded'), 'true', 'the process row is open');
    await page
      .locator('.monaco-list-row', { hasText: `${port}` })
      .first()
      .waitFor();
    const labels = await page.locator('.monaco-list-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('aria-label') ?? ''));
    assert.equal(labels.filter((l) => l.startsWith(`${port}`)).length, 1, `the port shows once: ${labels.join(' | ')}`);
    await shot(page, '3-port-once');
  });

  it('exposes a detected port in one step from its context menu and shows the URL in the status bar', async () => {
    const row = page.locator('.monaco-list-row', { hasText: String(port) }).last();
    await row.click({ button: 'right' });
    const item = page.locator('.monaco-menu .action-item', { hasText: /^Expose Port$/ });
    await item.first().waitFor();
    assert.ok(await page.locator('.monaco-menu .action-item', { hasText: 'Expose Port with Options…' }).first().isVisible(), 'the Options… path is offered');
    await shot(page, '4-context-menu');
    await item.first().click();
    // No questions: the status bar shows the URL, with a 16-character token that stays across restarts.
    const status = page.locator('.statusbar-item', { hasText: `${port}-${sandboxId}-` });
    await status.first().waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('.quick-input-widget input.input').isVisible(), false, 'nothing was asked');
    const text = await status.first().innerText();
    assert.match(text, new RegExp(`http://${port}-${sandboxId}-[a-z0-9]{16}\\.localhost:${stack.port}/`));
    // Open when ready: the Simple Browser shows the page once the port answers.
    await page.locator('.tab', { hasText: 'Simple Browser' }).first().waitFor({ timeout: 30_000 });
    await waitForFrameText(page, 'ui-test-page');
    await page.waitForTimeout(500); // let the frame paint before the screenshot
    await shot(page, '5-exposed-one-step');
  });

  it('warns before exposing a port bound to 127.0.0.1, with "Expose Anyway"', async () => {
    const local = (await freePort()) as number;
    const proc = await api.ok('POST', `/sandboxes/${sandboxId}/processes`, { command: `python3 -u -m http.server ${local} --bind 127.0.0.1` });
    await api.ok('POST', `/sandboxes/${sandboxId}/processes/${proc.id}/wait-for-port`, { port: local, mode: 'tcp' }).catch(() => {});
    const row = page.locator('.monaco-list-row', { hasText: '127.0.0.1 only' }).first();
    await row.waitFor({ timeout: 30_000 });
    await row.click({ button: 'right' });
    const item = page.locator('.monaco-menu .action-item', { hasText: /^Expose Port$/ }).first();
    await item.waitFor();
    await item.hover();
    await item.click();
    const toast = page.locator('.notification-toast', { hasText: `Port ${local} in sandbox ${sandboxId} listens on 127.0.0.1 only` }).first();
    await toast.waitFor({ timeout: 10_000 });
    assert.ok(await toast.locator('.monaco-button', { hasText: /^Expose Anyway$/ }).isVisible());
    await shot(page, '6-loopback-warning');
    await toast.locator('.monaco-button', { hasText: /^Cancel$/ }).click();
    await toast.waitFor({ state: 'hidden' });
    const ports = await api.ok('GET', `/sandboxes/${sandboxId}/ports`);
    assert.ok(!ports.ports.some((p: { port: number }) => p.port === local), 'Cancel exposed nothing');
  });

  it('offers Expose / Expose & Open / Ignore when a process starts listening, and Expose exposes it', async () => {
    const second = (await freePort()) as number;
    await api.ok('POST', `/sandboxes/${sandboxId}/processes`, { command: `python3 -u -m http.server ${second} --bind 0.0.0.0` });
    const toast = page.locator('.notification-toast', { hasText: `listening on port ${second}` }).first();
    await toast.waitFor({ timeout: 30_000 });
    for (const label of ['Expose', 'Expose & Open', 'Ignore']) {
      assert.ok(
        await toast
          .locator('.monaco-button', { hasText: new RegExp(`^${label.replace('&', '\\&')}$`) })
          .first()
          .isVisible(),
        label,
      );
    }
    await shot(page, '7-port-detected');
    await toast
      .locator('.monaco-button', { hasText: /^Expose$/ })
      .first()
      .click();
    const status = page.locator('.statusbar-item', { hasText: `${second}-${sandboxId}-` });
    await status.first().waitFor({ timeout: 30_000 });
    await page
      .locator('.monaco-list-row', { hasText: `${second}-${sandboxId}-` })
      .first()
      .waitFor({ timeout: 30_000 });
  });

  it('a single click on a process shows its output and leaves the focus in the tree', async () => {
    const processRow = page.locator('.monaco-list-row', { hasText: 'mkdir -p site' }).first();
    await processRow.click();
    // The process's output shows in the panel…
    await page.locator('.panel', { hasText: 'Serving HTTP' }).first().waitFor({ timeout: 15_000 });
    // …while the keyboard focus is still on the tree's rows.
    const focusInTree = await page.evaluate(() => !!document.activeElement?.closest('.monaco-list') && !document.activeElement?.closest('.panel'));
    assert.ok(focusInTree, 'the focus stayed in the Sandboxes tree');
    await page.keyboard.press('ArrowDown');
    const selected = await page.locator('.monaco-list-row.focused').first().innerText();
    assert.ok(selected.length > 0, 'the arrow keys move within the tree');
  });

  it('works from the keyboard: F2 sets a label, Ctrl+C copies the URL, Delete unexposes, and the URL stays until then', async () => {
    const row = () => page.locator('.monaco-list-row', { hasText: `${port}-${sandboxId}-` }).first();
    const url = (await api.ok('GET', `/sandboxes/${sandboxId}/ports`)).ports.find((p: { port: number }) => p.port === port).url as string;
    await row().click();
    await page.keyboard.press('F2');
    await answer('Label for port', 'web');
    await page
      .locator('.monaco-list-row', { hasText: `web (${port})` })
      .first()
      .waitFor({ timeout: 30_000 });
    assert.equal((await api.ok('GET', `/sandboxes/${sandboxId}/ports`)).ports.find((p: { port: number }) => p.port === port).url, url, 'a label keeps the URL');
    await row().click();
    await page.keyboard.press('Control+C');
    await page
      .locator('.statusbar-item', { hasText: `Copied ${url}` })
      .first()
      .waitFor({ timeout: 10_000 });
    await shot(page, '8-keyboard');
    await page.keyboard.press('Delete');
    const deadline = Date.now() + 30_000;
    while ((await api.ok('GET', `/sandboxes/${sandboxId}/ports`)).ports.some((p: { port: number }) => p.port === port)) {
      assert.ok(Date.now() < deadline, 'Delete unexposed the selected port');
      await new Promise((r) => setTimeout(r, 200));
    }
    await row().waitFor({ state: 'detached', timeout: 30_000 });
  });

  it('asks before Delete stops a running process: Cancel keeps it running, "Stop Process" stops it', async () => {
    const proc = await api.ok('POST', `/sandboxes/${sandboxId}/processes`, { command: 'sleep 600 # delete-me' });
    const status = async () => (await api.ok('GET', `/sandboxes/${sandboxId}/processes/${proc.id}`)).status as string;
    const row = page.locator('.monaco-list-row', { hasText: 'delete-me' }).first();
    const dialog = page.locator('.monaco-dialog-box', { hasText: 'Stop "sleep 600 # delete-me"' }).first();
    await row.waitFor({ timeout: 30_000 });
    await row.click();
    await page.keyboard.press('Delete');
    await dialog.waitFor({ timeout: 10_000 });
    await shot(page, '8b-delete-asks');
    await dialog
      .locator('.monaco-button', { hasText: /^Cancel$/ })
      .first()
      .click();
    await dialog.waitFor({ state: 'detached', timeout: 10_000 });
    assert.equal(await status(), 'running', 'Cancel left the process running');
    await row.click();
    await page.keyboard.press('Delete');
    await dialog
      .locator('.monaco-button', { hasText: /^Stop Process$/ })
      .first()
      .click();
    const deadline = Date.now() + 30_000;
    while ((await status()) === 'running') {
      assert.ok(Date.now() < deadline, '"Stop Process" stopped it');
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  it('makes Ignore permanent from the notification ("Always Ignore"), and the port leaves the tree', async () => {
    const third = (await freePort()) as number;
    await api.ok('POST', `/sandboxes/${sandboxId}/processes`, { command: `python3 -u -m http.server ${third} --bind 0.0.0.0` });
    const toast = page.locator('.notification-toast', { hasText: `listening on port ${third}` }).first();
    await toast.waitFor({ timeout: 30_000 });
    await page
      .locator('.monaco-list-row', { hasText: new RegExp(`^\\s*${third}`) })
      .first()
      .waitFor({ timeout: 30_000 });
    await toast
      .locator('.monaco-button', { hasText: /^Always Ignore$/ })
      .first()
      .click();
    const settingsFile = path.join(wb.workspace, '.vscode', 'settings.json');
    const deadline = Date.now() + 20_000;
    while (!(fs.existsSync(settingsFile) && fs.readFileSync(settingsFile, 'utf8').includes(`"${third}"`))) {
      assert.ok(Date.now() < deadline, 'the workspace settings name the port');
      await new Promise((r) => setTimeout(r, 200));
    }
    const saved = JSON.parse(fs.readFileSync(settingsFile, 'utf8'));
    assert.deepEqual(saved['sandboxPorts.portsAttributes'][String(third)], { onDetect: 'ignore' });
    await page
      .locator('.monaco-list-row', { hasText: new RegExp(`^\\s*${third}`) })
      .first()
      .waitFor({ state: 'detached', timeout: 30_000 });
  });

  it('after a window reload, reconnects by itself or offers one click', async () => {
    await page.reload();
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await page.locator('.activitybar [aria-label^="Sandboxes"]').first().click();
    const tree = page.locator('.monaco-list-row', { hasText: sandboxId }).first();
    const reconnect = page.locator('.welcome-view-content a.monaco-button', { hasText: /^Reconnect$/ }).first();
    await Promise.race([tree.waitFor({ timeout: 60_000 }), reconnect.waitFor({ timeout: 60_000 })]);
    if (!(await tree.isVisible())) {
      // The web workbench lost the secret: one click brings the connection back.
      await shot(page, '9-reload-reconnect');
      await reconnect.click();
      const token = page.locator('.quick-input-widget .quick-input-title', { hasText: 'Connect to Worker (2/2)' });
      await Promise.race([tree.waitFor({ timeout: 30_000 }), token.waitFor({ timeout: 30_000 })]);
      if (await token.isVisible()) await answer('Connect to Worker (2/2)', stack.token);
      await tree.waitFor({ timeout: 30_000 });
    }
    await page
      .locator('.statusbar-item', { hasText: `${stack.port}` })
      .first()
      .waitFor({ timeout: 30_000 });
    await shot(page, '10-after-reload');
  });
});

async function waitForFrameText(page: Page, text: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      const body = await frame.evaluate(() => document.body?.innerText ?? '').catch(() => '');
      if (body.includes(text)) return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no frame shows "${text}"`);
}
