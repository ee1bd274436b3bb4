/**
 * The commands that connect the extension to a Worker: connect, reconnect, and starting or
 * stopping the local server. Registered through the table in commands.ts.
 */
import * as vscode from 'vscode';
import { normaliseWorkerUrl } from './core/api-client';
import type { Ctx } from './context';
import { bundledPackage, folderLaunch, LocalServer, packageLaunch } from './local-server';
import { required } from './pickers';

export async function connect(ctx: Ctx, urlArg?: string, tokenArg?: string): Promise<void> {
  const url =
    typeof urlArg === 'string'
      ? urlArg
      : required(
          await vscode.window.showInputBox({
            title: 'Connect to Worker (1/2)',
            prompt: 'The Worker URL (the control API lives under /api/v1)',
            value: ctx.credentials.lastUrl ?? 'http://127.0.0.1:8787',
            validateInput: (v) => {
              try {
                normaliseWorkerUrl(v);
                return undefined;
              } catch {
                return 'Type a URL such as http://127.0.0.1:8787 or https://sandboxes.example.com';
              }
            },
          }),
        );
  const origin = normaliseWorkerUrl(url);
  const token =
    typeof tokenArg === 'string'
      ? tokenArg
      : required(
          await vscode.window.showInputBox({
            title: 'Connect to Worker (2/2)',
            prompt: `The control-API token for ${origin} (SANDBOX_API_TOKEN; kept in VS Code's secret storage)`,
            password: true,
            // Prefilled with what this window knows: the stored token, or a local server's.
            value: (await ctx.knownToken(origin)) ?? '',
            validateInput: (v) => (v.trim() ? undefined : 'The token is required.'),
          }),
        );
  await ctx.withProgress(`Connecting to ${origin}…`, () => ctx.connect(origin, token.trim()));
  void vscode.window.setStatusBarMessage(`$(check) Connected to ${origin}`, 4000);
}

/**
 * One click back to the last Worker: retry at once while reconnecting; ask for a token when the
 * Worker refused the one it has; else its stored token (or a local server's), else ask.
 */
export async function reconnect(ctx: Ctx): Promise<void> {
  const url = ctx.connection?.client.url ?? ctx.credentials.lastUrl;
  if (ctx.connection && ctx.link.kind === 'reconnecting') {
    ctx.connection.stream.reconnectNow();
    return;
  }
  if (!url) return connect(ctx);
  // The same token would be refused again.
  if (ctx.link.kind === 'refused') return connect(ctx, url);
  const token = await ctx.knownToken(url);
  if (!token) return connect(ctx, url);
  await ctx.withProgress(`Connecting to ${url}…`, () => ctx.connect(url, token));
  void vscode.window.setStatusBarMessage(`$(check) Connected to ${url}`, 4000);
}

/**
 * Runs the local stack: the local-runtime package at this extension's version (nothing but npm
 * needed), or `npm start` in a Sandbox Ports checkout when the folder setting names one (or the
 * open workspace is one). A folder setting that names something else offers a folder picker.
 */
export async function startLocalServer(ctx: Ctx, options?: { from?: 'package' | 'folder' }): Promise<void> {
  // A keybinding or task may choose: { from: 'package' } runs the package even inside a checkout.
  let folder = options?.from === 'package' ? undefined : LocalServer.findFolder(ctx.settings.localServerFolder);
  if (folder && !LocalServer.isProjectFolder(folder)) {
    const choice = await vscode.window.showWarningMessage(
      `The setting "sandboxPorts.localServer.folder" names ${folder}, which is not a Sandbox Ports checkout. Choose the checkout, or clear the setting to run the local runtime package instead.`,
      'Choose Folder…',
      'Clear Setting',
    );
    if (choice === 'Clear Setting') {
      await vscode.workspace.getConfiguration('sandboxPorts').update('localServer.folder', undefined, vscode.ConfigurationTarget.Global);
      folder = undefined;
    } else if (choice === 'Choose Folder…') {
      folder = await pickProjectFolder();
    } else {
      return;
    }
  }
  const spec = folder ? null : ctx.settings.localServerPackage || bundledPackage(ctx.extension.extensionPath);
  if (!folder && !spec) {
    throw new Error(
      'This build of the extension carries no local runtime (a .vsix made by `npm run package` does): set sandboxPorts.localServer.package to a tarball from `npm run pack:local`, or sandboxPorts.localServer.folder to a checkout',
    );
  }
  const launch = folder ? folderLaunch(folder) : packageLaunch(spec!);
  const existing = ctx.localServer.running ? null : await LocalServer.alreadyRunning(launch);
  const config =
    existing ??
    (await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: folder ? 'Starting the local server (npm start)…' : 'Starting the local server (the first start downloads it)…',
        cancellable: true,
      },
      (_p, token) => ctx.localServer.start(launch, token),
    ));
  if (existing) ctx.log.info(`a local server is already running at ${existing.url}; connecting to it`);
  await ctx.withProgress(`Connecting to ${config.url}…`, () => ctx.connect(config.url, config.token));
  await ctx.setContext('localServerRunning', ctx.localServer.running);
  void vscode.window.setStatusBarMessage(`$(check) Local server at ${config.url}`, 4000);
}

/** A Sandbox Ports checkout picked in a folder dialog, remembered in the folder setting. */
async function pickProjectFolder(): Promise<string> {
  const picked = await vscode.window.showOpenDialog({
    canSelectFolders: true,
    canSelectFiles: false,
    canSelectMany: false,
    openLabel: 'Use This Folder',
    title: 'Sandbox Ports checkout',
  });
  const chosen = required(picked?.[0]?.fsPath);
  if (!LocalServer.isProjectFolder(chosen)) throw new Error(`${chosen} is not a Sandbox Ports checkout (its package.json is not named "sandbox-ports").`);
  await vscode.workspace.getConfiguration('sandboxPorts').update('localServer.folder', chosen, vscode.ConfigurationTarget.Global);
  return chosen;
}

export async function stopLocalServer(ctx: Ctx): Promise<void> {
  if (!ctx.localServer.running) {
    void vscode.window.showInformationMessage('No local server was started from this window (a server started in a terminal stops with Ctrl-C there).');
    return;
  }
  const localUrl = ctx.connection?.client.url;
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Stopping the local server…' }, () => ctx.localServer.stop());
  if (localUrl && /127\.0\.0\.1|localhost/.test(localUrl)) await ctx.disconnect(false);
  await ctx.setContext('localServerRunning', false);
}
