/**
 * A real VS Code for the test tiers that need one: the VS Code server from npm's code-server
 * (installed by scripts/install-vscode.sh), its web workbench opened in Debian's headless Chromium
 * through playwright-core. Nothing leaves the machine: the server gets no gallery, and the browser
 * aborts every request that is not to loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
// @ts-expect-error plain ESM module without types
import { freePort, nodeBinary, root } from '../../scripts/stack.mjs';

export const CODE_SERVER_VERSION = process.env.CODE_SERVER_VERSION ?? '4.104.0';
const vscodeDir = path.join(root as string, '.tools', `code-server-${CODE_SERVER_VERSION}`, 'node_modules', 'code-server', 'lib', 'vscode');

export function vscodeInstalled(): boolean {
  return fs.existsSync(path.join(vscodeDir, 'out', 'server-main.js')) && fs.existsSync(path.join(vscodeDir, '..', '..', '..', '..', '.installed'));
}

export function requireVscode(): void {
  if (!vscodeInstalled()) throw new Error(`The VS Code server is not installed: run scripts/install-vscode.sh (looked in ${vscodeDir})`);
}

const USER_SETTINGS = {
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'workbench.enableExperiments': false,
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'security.workspace.trust.enabled': false,
  'git.enabled': false,
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'chat.disableAIFeatures': true,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
};

export interface Workbench {
  url: string;
  port: number;
  dataDir: string;
  extensionsDir: string;
  workspace: string;
  stop(): Promise<void>;
}

/**
 * Starts the VS Code server in its own process group; `env` reaches the extension host. The smoke
 * test driver (on unless `testDriver: false`) gives extension tests their exit hook, but it also
 * makes the workbench refuse modal dialogs: UI tests that answer one turn it off.
 */
export async function startWorkbench(
  options: { env?: Record<string, string>; settings?: Record<string, unknown>; log?: fs.WriteStream; testDriver?: boolean } = {},
): Promise<Workbench> {
  requireVscode();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sandbox-ports-vscode-'));
  const extensionsDir = path.join(dataDir, 'extensions');
  const workspace = path.join(dataDir, 'workspace');
  fs.mkdirSync(extensionsDir, { recursive: true });
  fs.mkdirSync(workspace, { recursive: true });
  fs.writeFileSync(path.join(workspace, 'README.md'), '# test workspace\n');
  const settings = JSON.stringify({ ...USER_SETTINGS, ...(options.settings ?? {}) }, null, 2);
  // The web workbench keeps user settings on the server side under the server data dir.
  for (const dir of [path.join(dataDir, 'server', 'data', 'User'), path.join(dataDir, 'user', 'User'), path.join(dataDir, 'server', 'data', 'Machine')]) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'settings.json'), settings);
  }
  const port = (await freePort()) as number;
  const child = spawn(
    nodeBinary() as string,
    [
      path.join(vscodeDir, 'out', 'server-main.js'),
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--without-connection-token',
      '--accept-server-license-terms',
      ...(options.testDriver === false ? [] : ['--enable-smoke-test-driver']),
      '--disable-telemetry',
      '--user-data-dir',
      path.join(dataDir, 'user'),
      '--server-data-dir',
      path.join(dataDir, 'server'),
      '--extensions-dir',
      extensionsDir,
    ],
    {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, EXTENSIONS_GALLERY: '{}', VSCODE_CLI_DISABLE_UPDATE: '1', ...(options.env ?? {}) },
    },
  );
  if (options.log) {
    child.stdout!.pipe(options.log, { end: false });
    child.stderr!.pipe(options.log, { end: false });
  } else {
    child.stdout!.resume();
    child.stderr!.resume();
  }
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopGroup(child);
    fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  };
  try {
    await waitForHttp(url, 60_000, child);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, port, dataDir, extensionsDir, workspace, stop };
}

/** `server-main.js --install-extension x.vsix` into the workbench's extensions dir (about a second). */
export async function installVsix(wb: Pick<Workbench, 'extensionsDir' | 'dataDir'>, vsix: string): Promise<string> {
  const child = spawn(
    nodeBinary() as string,
    [
      path.join(vscodeDir, 'out', 'server-main.js'),
      '--install-extension',
      vsix,
      '--force',
      '--extensions-dir',
      wb.extensionsDir,
      '--server-data-dir',
      path.join(wb.dataDir, 'server'),
      '--accept-server-license-terms',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, EXTENSIONS_GALLERY: '{}' } },
  );
  let out = '';
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (out += b));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`--install-extension failed (${code}):\n${out}`);
  return out;
}

export interface BrowserSession {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

function isLoopback(url: string): boolean {
  try {
    const u = new URL(url);
    if (u.protocol === 'data:' || u.protocol === 'blob:') return true;
    const h = u.hostname;
    return h === '127.0.0.1' || h === 'localhost' || h.endsWith('.localhost') || h === '[::1]';
  } catch {
    return true;
  }
}

/** Headless Chromium as every browser test runs it (the system's chromium, or CHROMIUM_PATH). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/** Headless Chromium with clipboard access and every non-loopback request aborted. */
export async function openBrowser(): Promise<BrowserSession> {
  const browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await context.route('**/*', (route) => (isLoopback(route.request().url()) ? route.continue() : route.abort()));
  const page = await context.newPage();
  return { browser, context, page, close: () => browser.close() };
}

/** The workbench URL for a folder, with optional development extension and test entry (remote paths). */
export function workbenchUrl(wb: Workbench, payload: [string, string][] = []): string {
  const remote = (p: string) => `vscode-remote://127.0.0.1:${wb.port}${p}`;
  const params = new URLSearchParams({ folder: wb.workspace });
  if (payload.length) params.set('payload', JSON.stringify(payload.map(([k, v]) => [k, v.startsWith('/') ? remote(v) : v])));
  return `${wb.url}/?${params}`;
}

/** Every frame's visible text (the Simple Browser's page is a frame inside a webview frame). */
export async function frameTexts(page: Page): Promise<{ url: string; text: string }[]> {
  const out: { url: string; text: string }[] = [];
  for (const frame of page.frames()) {
    try {
      out.push({ url: frame.url(), text: await frame.evaluate(() => document.body?.innerText ?? '') });
    } catch {
      /* detached or cross-origin in the middle of a navigation */
    }
  }
  return out;
}

async function waitForHttp(url: string, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the VS Code server exited (${child.exitCode})`);
    try {
      const res = await fetch(url);
      if (res.status < 500) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the VS Code server did not answer ${url} within ${timeoutMs} ms`);
}

async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    process.kill(-child.pid!, 'SIGTERM');
  } catch {
    return;
  }
  const t = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 5000);
  await exited;
  clearTimeout(t);
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    /* group empty */
  }
}
