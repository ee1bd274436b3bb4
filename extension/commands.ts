/**
 * Every command of the extension in ONE table (id → handler), registered in one loop. Handlers
 * take what a tree node, a tooltip link or a test passes (a NodeRef) and ask for whatever is
 * missing. A failure is reported once, here, with "Show Logs".
 */
import * as vscode from 'vscode';
import { generateToken, type ExposedPort, type Visibility } from '../worker/protocol/index';
import { isMissingRoute, normaliseWorkerUrl, type ExposeRequest } from './core/api-client';
import { exposeRequest, oneStepExpose, reexpose, validateTokenInput, validateTtlInput, type ExposeAnswers } from './core/expose-input';
import { attributesFor, type PortAttributes } from './core/port-attributes';
import { isLoopback } from './core/port-detected';
import { waitUntilReady } from './core/ready';
import { httpFetch } from './http-fetch';
import type { NodeRef } from './core/tree-model';
import type { Ctx } from './context';
import { isCancellation } from './errors';
import { folderLaunch, LOCAL_PACKAGE, LocalServer, packageLaunch } from './local-server';
import { askSandboxId, pickPort, pickProcess, pickSandbox, required } from './pickers';
import { VIEW_ID } from './sandbox-tree';

type Ref = Partial<NodeRef> | undefined;
// Each handler takes its own arguments (refs, options): the table can only say "some arguments".
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Handler = (ctx: Ctx, ...args: any[]) => Promise<unknown>;

/** Options a caller (a notification, a test) may pass to Expose Port to skip the questions. */
export interface ExposeCommandOptions extends Partial<Omit<ExposeAnswers, 'port'>> {
  /** Open the preview once the port answers (default: the openOnExpose setting). */
  open?: boolean;
  /** Ask for label, visibility, token and expiry (the "Options…" path). */
  ask?: boolean;
  /** Expose a port bound to loopback only without the warning. */
  anyway?: boolean;
}

export const commands: Record<string, Handler> = {
  'sandboxPorts.connect': connect,
  'sandboxPorts.reconnect': reconnect,
  'sandboxPorts.disconnect': async (ctx) => ctx.disconnect(),
  'sandboxPorts.startLocalServer': startLocalServer,
  'sandboxPorts.stopLocalServer': stopLocalServer,
  'sandboxPorts.refresh': async (ctx) => {
    if (!ctx.connection) return;
    await ctx.withProgress('Refreshing…', () => ctx.connection!.refresh());
    ctx.tree.refreshNow();
  },
  'sandboxPorts.createSandbox': async (ctx, id?: string) => {
    const sandboxId = typeof id === 'string' ? id : await askSandboxId();
    await ctx.withProgress(`Creating sandbox ${sandboxId}…`, () => ctx.client.createSandbox(sandboxId));
    await ctx.afterChange(sandboxId);
    return sandboxId;
  },
  'sandboxPorts.destroySandbox': async (ctx, ref: Ref, confirmed?: boolean) => {
    const sandboxId = await pickSandbox(ctx, selected(ctx, ref));
    if (confirmed !== true) {
      const answer = await vscode.window.showWarningMessage(
        `Destroy sandbox ${sandboxId}? Its processes are stopped, its files removed, and every preview URL and tunnel ends.`,
        { modal: true },
        'Destroy',
      );
      if (answer !== 'Destroy') return;
    }
    await ctx.withProgress(`Destroying sandbox ${sandboxId}…`, () => ctx.client.destroySandbox(sandboxId));
    ctx.logs.forgetSandbox(sandboxId);
    await ctx.afterChange(sandboxId);
  },
  'sandboxPorts.startProcess': async (ctx, ref: Ref, command?: string) => {
    const sandboxId = await pickSandbox(ctx, selected(ctx, ref));
    const line =
      typeof command === 'string'
        ? command
        : required(
            await vscode.window.showInputBox({
              title: `Start Process in ${sandboxId}`,
              prompt: 'Command line (runs in /workspace)',
              placeHolder: 'python3 -m http.server 8080',
              validateInput: (v) => (v.trim() ? undefined : 'Type a command.'),
            }),
          );
    return startAndShow(ctx, sandboxId, line.trim());
  },
  'sandboxPorts.restartProcess': async (ctx, ref: Ref) => {
    const { sandboxId, processId } = await pickProcess(ctx, selected(ctx, ref), (p) => p.status !== 'running', 'ended process');
    const old = ctx.world[sandboxId]?.processes.find((p) => p.id === processId);
    if (!old) throw new Error(`Process ${processId} is no longer known in sandbox ${sandboxId}.`);
    // The new run takes the old row's place: the ended one is cleared from the tree.
    ctx.clearedProcesses.add(`${sandboxId}/${processId}`);
    return startAndShow(ctx, sandboxId, old.command);
  },
  'sandboxPorts.clearProcess': async (ctx, ref: Ref) => {
    const { sandboxId, processId } = await pickProcess(ctx, selected(ctx, ref), (p) => p.status !== 'running', 'ended process');
    ctx.clearedProcesses.add(`${sandboxId}/${processId}`);
    ctx.logs.forget(sandboxId, processId);
    ctx.tree.refreshNow();
  },
  'sandboxPorts.clearEndedProcesses': async (ctx, ref: Ref) => {
    const sandboxId = await pickSandbox(ctx, selected(ctx, ref));
    for (const p of ctx.world[sandboxId]?.processes ?? []) {
      if (p.status === 'running') continue;
      ctx.clearedProcesses.add(`${sandboxId}/${p.id}`);
      ctx.logs.forget(sandboxId, p.id);
    }
    ctx.tree.refreshNow();
  },
  'sandboxPorts.killProcess': async (ctx, ref: Ref, confirmed?: boolean) => {
    const { sandboxId, processId } = await pickProcess(ctx, selected(ctx, ref), (p) => p.status === 'running', 'running process');
    if (confirmed === false) {
      const command = ctx.world[sandboxId]?.processes.find((p) => p.id === processId)?.command ?? processId;
      const answer = await vscode.window.showWarningMessage(`Stop "${command}" in sandbox ${sandboxId}?`, { modal: true }, 'Stop Process');
      if (answer !== 'Stop Process') return;
    }
    await ctx.withProgress(`Stopping ${processId}…`, () => ctx.client.killProcess(sandboxId, processId));
    await ctx.afterChange(sandboxId);
  },
  'sandboxPorts.showLogs': async (ctx, ref: (Ref & { preserveFocus?: boolean }) | undefined) => {
    const { sandboxId, processId } = await pickProcess(ctx, selected(ctx, ref), () => true, 'process');
    ctx.logs.show(sandboxId, processId, ref?.preserveFocus === true);
  },
  'sandboxPorts.exposePort': (ctx, ref: Ref, options?: ExposeCommandOptions) => exposePort(ctx, selected(ctx, ref), options ?? {}),
  'sandboxPorts.exposePortWithOptions': (ctx, ref: Ref) => exposePort(ctx, selected(ctx, ref), { ask: true }),
  'sandboxPorts.unexposePort': async (ctx, ref: Ref) => {
    const r = selected(ctx, ref);
    const sandboxId = await pickSandbox(ctx, r);
    const port = await pickPort(
      ctx,
      sandboxId,
      r,
      (ctx.world[sandboxId]?.ports ?? []).map((p) => p.port),
      'Unexpose Port',
    );
    await ctx.withProgress(`Unexposing port ${port}…`, () => ctx.client.unexposePort(sandboxId, port));
    await ctx.afterChange(sandboxId);
  },
  'sandboxPorts.setLabel': async (ctx, ref: Ref, label?: string) => {
    const { sandboxId, current } = await exposedPort(ctx, selected(ctx, ref), 'Set Label');
    const name =
      typeof label === 'string'
        ? label
        : required(
            await vscode.window.showInputBox({
              title: `Label for port ${current.port}`,
              prompt: 'Shown in the tree as "label (port)"; empty removes it. The URL stays the same.',
              value: current.name ?? '',
              validateInput: (v) => (v.length > 100 ? 'Up to 100 characters.' : undefined),
            }),
          );
    await ctx.withProgress(`Labelling port ${current.port}…`, () => ctx.client.exposePort(sandboxId, reexpose(current, { name: name.trim() || null })));
    await ctx.afterChange(sandboxId);
  },
  'sandboxPorts.makePublic': (ctx, ref: Ref) => setVisibility(ctx, selected(ctx, ref), 'public'),
  'sandboxPorts.makePrivate': (ctx, ref: Ref) => setVisibility(ctx, selected(ctx, ref), 'private'),
  'sandboxPorts.openPreview': async (ctx, ref: Ref) => {
    const url = await previewUrl(ctx, selected(ctx, ref), 'Open Preview');
    await vscode.commands.executeCommand('simpleBrowser.show', url.open);
    ctx.statusBar.touch(url.url);
  },
  'sandboxPorts.openExternal': async (ctx, ref: Ref) => {
    const r = selected(ctx, ref);
    if (r?.url && isTunnelUrl(ctx, r)) return vscode.env.openExternal(vscode.Uri.parse(r.url));
    const url = await previewUrl(ctx, r, 'Open in Browser');
    await vscode.env.openExternal(vscode.Uri.parse(url.open));
    ctx.statusBar.touch(url.url);
  },
  'sandboxPorts.copyUrl': async (ctx, ref: Ref) => {
    const r = selected(ctx, ref, false);
    if (r?.url) return copy(r.url);
    if (!r) {
      // From the status bar or the palette with nothing selected: the current preview (a pick when several).
      const entry = await ctx.statusBar.choose();
      if (!entry) throw new Error('No preview URL to copy: expose a port first.');
      return copy(entry.url);
    }
    await copy((await previewUrl(ctx, r, 'Copy URL')).url);
  },
  'sandboxPorts.createTunnel': async (ctx, ref: Ref) => {
    const r = selected(ctx, ref);
    const sandboxId = await pickSandbox(ctx, r);
    const s = ctx.world[sandboxId];
    const port = await pickPort(ctx, sandboxId, r, [...new Set([...(s?.detectedPorts ?? []).map((d) => d.port)])], 'Create Tunnel');
    const tunnel = await ctx.withProgress(`Creating a tunnel for port ${port}…`, () => tunnels(ctx.client.createTunnel(sandboxId, port)));
    await ctx.afterChange(sandboxId);
    void vscode.window.showInformationMessage(`Tunnel for port ${port}: ${tunnel.url}`, 'Copy', 'Open').then((choice) => {
      if (choice === 'Copy') void copy(tunnel.url);
      if (choice === 'Open') void vscode.env.openExternal(vscode.Uri.parse(tunnel.url));
    });
    return tunnel;
  },
  'sandboxPorts.destroyTunnel': async (ctx, ref: Ref) => {
    const r = selected(ctx, ref);
    const sandboxId = await pickSandbox(ctx, r);
    const port = await pickPort(
      ctx,
      sandboxId,
      r,
      (ctx.world[sandboxId]?.tunnels ?? []).map((t) => t.port),
      'Destroy Tunnel',
    );
    await ctx.withProgress(`Destroying the tunnel for port ${port}…`, () => tunnels(ctx.client.destroyTunnel(sandboxId, port)));
    await ctx.afterChange(sandboxId);
  },
  // The Delete key: what "remove" means for the selected row (asking first before stopping a process).
  'sandboxPorts.deleteItem': async (ctx, ref: Ref) => {
    const node = ctx.view.selection[0];
    const r = selected(ctx, ref);
    const kind = node?.kind ?? (r?.processId ? 'process' : r?.port ? 'port' : 'sandbox');
    if (kind === 'port') return vscode.commands.executeCommand('sandboxPorts.unexposePort', r);
    if (kind === 'tunnel') return vscode.commands.executeCommand('sandboxPorts.destroyTunnel', r);
    if (kind === 'process') {
      const running = ctx.world[r!.sandboxId!]?.processes.find((p) => p.id === r!.processId)?.status === 'running';
      return vscode.commands.executeCommand(running ? 'sandboxPorts.killProcess' : 'sandboxPorts.clearProcess', r, false);
    }
    if (kind === 'sandbox') return vscode.commands.executeCommand('sandboxPorts.destroySandbox', r);
    return undefined;
  },
  'sandboxPorts.showExtensionLog': async (ctx) => ctx.log.show(),
};

/** Registers the table; every handler's failure is reported once, titled in plain words. */
export function registerCommands(ctx: Ctx): void {
  for (const [id, handler] of Object.entries(commands)) {
    ctx.own(
      vscode.commands.registerCommand(id, async (...args: unknown[]) => {
        try {
          return await handler(ctx, ...args);
        } catch (err) {
          if (isCancellation(err)) return undefined;
          ctx.reportFailure(failureTitle(id), err);
          return undefined;
        }
      }),
    );
  }
}

/** What a person reads when a command fails: "Could not expose the port", not "Expose port". */
const FAILURE_TITLES: Record<string, string> = {
  connect: 'Could not connect to the Worker',
  reconnect: 'Could not reconnect to the Worker',
  disconnect: 'Could not disconnect',
  startLocalServer: 'Could not start the local server',
  stopLocalServer: 'Could not stop the local server',
  refresh: 'Could not refresh',
  createSandbox: 'Could not create the sandbox',
  destroySandbox: 'Could not destroy the sandbox',
  startProcess: 'Could not start the process',
  restartProcess: 'Could not restart the process',
  clearProcess: 'Could not clear the process',
  clearEndedProcesses: 'Could not clear the ended processes',
  killProcess: 'Could not stop the process',
  showLogs: 'Could not show the output',
  exposePort: 'Could not expose the port',
  exposePortWithOptions: 'Could not expose the port',
  unexposePort: 'Could not unexpose the port',
  setLabel: 'Could not set the label',
  makePublic: 'Could not make the port public',
  makePrivate: 'Could not make the port private',
  openPreview: 'Could not open the preview',
  openExternal: 'Could not open the browser',
  copyUrl: 'Could not copy the URL',
  createTunnel: 'Could not create the tunnel',
  destroyTunnel: 'Could not destroy the tunnel',
  deleteItem: 'Could not remove it',
};

export function failureTitle(id: string): string {
  return FAILURE_TITLES[id.replace('sandboxPorts.', '')] ?? 'Sandbox Ports ran into a problem';
}

/**
 * The ref a command works on: the one passed (a tree row, a tooltip link, a test), or for a
 * keyboard shortcut (`{ fromSelection: true }`) the row selected in the tree. `required` false
 * answers undefined when nothing is selected instead of failing.
 */
function selected(ctx: Ctx, ref: Ref | { fromSelection?: boolean }, require = true): Ref {
  if (!ref || !('fromSelection' in ref)) return ref as Ref;
  const node = ctx.view.selection[0];
  if (!node && require) throw new Error('Select a row in the Sandboxes view first.');
  return node
    ? { sandboxId: node.sandboxId, ...(node.processId ? { processId: node.processId } : {}), ...(node.port ? { port: node.port } : {}), ...(node.url ? { url: node.url } : {}) }
    : undefined;
}

async function startAndShow(ctx: Ctx, sandboxId: string, line: string): Promise<unknown> {
  const process = await ctx.withProgress(`Starting ${line}…`, () => ctx.client.startProcess(sandboxId, line));
  await ctx.afterChange(sandboxId);
  ctx.logs.show(sandboxId, process.id);
  return process;
}

async function connect(ctx: Ctx, urlArg?: string, tokenArg?: string): Promise<void> {
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
  const known = (await ctx.credentials.token(origin)) ?? LocalServer.tokenFor(origin, ctx.settings.localServerFolder);
  const token =
    typeof tokenArg === 'string'
      ? tokenArg
      : required(
          await vscode.window.showInputBox({
            title: 'Connect to Worker (2/2)',
            prompt: `The control-API token for ${origin} (SANDBOX_API_TOKEN; kept in VS Code's secret storage)`,
            password: true,
            value: known ?? '',
            validateInput: (v) => (v.trim() ? undefined : 'The token is required.'),
          }),
        );
  await ctx.withProgress(`Connecting to ${origin}…`, () => ctx.connect(origin, token.trim()));
  void vscode.window.setStatusBarMessage(`$(check) Connected to ${origin}`, 4000);
}

/** One click back to the last Worker: its stored token (or a local server's), else the token is asked for. */
async function reconnect(ctx: Ctx): Promise<void> {
  const url = ctx.connection?.client.url ?? ctx.credentials.lastUrl;
  if (ctx.connection && ctx.linkDown) {
    ctx.connection.stream.reconnectNow();
    return;
  }
  if (!url) return connect(ctx);
  const token = (await ctx.credentials.token(url)) ?? LocalServer.tokenFor(url, ctx.settings.localServerFolder);
  if (!token) return connect(ctx, url);
  await ctx.withProgress(`Connecting to ${url}…`, () => ctx.connect(url, token));
  void vscode.window.setStatusBarMessage(`$(check) Connected to ${url}`, 4000);
}

/**
 * Runs the local stack: the local-runtime package at this extension's version (nothing but npm
 * needed), or `npm start` in a Sandbox Ports checkout when the folder setting names one (or the
 * open workspace is one). A folder setting that names something else offers a folder picker.
 */
async function startLocalServer(ctx: Ctx, options?: { from?: 'package' | 'folder' }): Promise<void> {
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
  const spec = ctx.settings.localServerPackage || `${LOCAL_PACKAGE}@${ctx.extension.extension.packageJSON.version as string}`;
  const launch = folder ? folderLaunch(folder) : packageLaunch(spec);
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

async function stopLocalServer(ctx: Ctx): Promise<void> {
  if (!ctx.localServer.running) {
    void vscode.window.showInformationMessage('No local server was started from this window (a server started in a terminal stops with Ctrl-C there).');
    return;
  }
  const localUrl = ctx.connection?.client.url;
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Stopping the local server…' }, () => ctx.localServer.stop());
  if (localUrl && /127\.0\.0\.1|localhost/.test(localUrl)) await ctx.disconnect(false);
  await ctx.setContext('localServerRunning', false);
}

async function exposePort(ctx: Ctx, ref: Ref, options: ExposeCommandOptions): Promise<unknown> {
  const sandboxId = await pickSandbox(ctx, ref);
  const s = ctx.world[sandboxId];
  const exposedPorts = new Set((s?.ports ?? []).map((p) => p.port));
  const candidates = (s?.detectedPorts ?? []).filter((d) => !exposedPorts.has(d.port) && (!ref?.processId || d.processId === ref.processId)).map((d) => d.port);
  const port = await pickPort(ctx, sandboxId, ref, candidates, `Expose Port in ${sandboxId}`);
  const listener = s?.detectedPorts.find((d) => d.port === port);
  if (listener && isLoopback(listener.address) && options.anyway !== true) {
    const answer = await vscode.window.showWarningMessage(
      `Port ${port} in sandbox ${sandboxId} listens on ${listener.address} only, so a preview cannot reach it. Make the service listen on 0.0.0.0:${port} (for example --host 0.0.0.0 or --bind 0.0.0.0).`,
      'Expose Anyway',
      'Cancel',
    );
    if (answer !== 'Expose Anyway') return undefined;
  }
  const current = s?.ports.find((p) => p.port === port);
  const attributes = attributesFor(ctx.attributes.rules, port);
  const base = options.ask ? await askExposeOptions(port, attributes, current) : oneStepExpose(port, attributes, current);
  const request = { ...base, ...pick(options) };
  const result = await ctx.withProgress(`Exposing port ${port}…`, () => ctx.client.exposePort(sandboxId, request));
  ctx.log.info(`exposed ${sandboxId}:${port} at ${result.url}`);
  ctx.statusBar.touch(result.url);
  await ctx.afterChange(sandboxId);
  if (options.open ?? ctx.settings.openOnExpose) void openWhenReady(ctx, sandboxId, port, result.url);
  else void vscode.window.setStatusBarMessage(`$(globe) Port ${port} is exposed at ${result.url}`, 5000);
  return result;
}

/** What a caller (a notification, a test) passed that goes into the request as it is. */
function pick(options: ExposeCommandOptions): Partial<ExposeRequest> {
  const out: Partial<ExposeRequest> = {};
  if (options.name !== undefined) out.name = options.name;
  if (options.token !== undefined) out.token = options.token;
  if (options.visibility !== undefined) out.visibility = options.visibility;
  if (options.ttl !== undefined) out.ttl = options.ttl;
  return out;
}

/**
 * Opens the preview when the port first answers, in the background (the expose itself is done).
 * A port that does not answer within the ready timeout gets one plain message; the wait goes on
 * (until it answers, the port is unexposed, or the person stops it) for up to ten minutes.
 */
async function openWhenReady(ctx: Ctx, sandboxId: string, port: number, url: string): Promise<void> {
  const abort = new AbortController();
  const connection = ctx.connection;
  const sub = connection?.store.onDidChange(({ world }) => {
    if (!world[sandboxId]?.ports.some((p) => p.port === port && p.url === url)) abort.abort();
  });
  const token = connection ? await ctx.credentials.token(connection.client.url) : undefined;
  const wait = (timeoutMs: number, intervalMs: number) => waitUntilReady({ url, fetch: httpFetch, ...(token ? { token } : {}), timeoutMs, intervalMs, signal: abort.signal });
  try {
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `Waiting for port ${port} to answer` }, async () => {
      try {
        await wait(ctx.settings.readyTimeoutSeconds * 1000, 500);
      } catch (err) {
        if (abort.signal.aborted) throw err;
        void vscode.window
          .showInformationMessage(
            `Port ${port} in sandbox ${sandboxId} is exposed, but nothing answers there yet. The preview opens as soon as a service listens on 0.0.0.0:${port}.`,
            'Stop Waiting',
          )
          .then((choice) => choice && abort.abort());
        await wait(10 * 60_000, 2000);
      }
    });
    if (abort.signal.aborted) return;
    await vscode.commands.executeCommand('sandboxPorts.openPreview', { sandboxId, port, url });
  } catch (err) {
    if (!abort.signal.aborted) ctx.log.info(`not opening the preview of ${sandboxId}:${port}: ${(err as Error).message}`);
  } finally {
    sub?.dispose();
  }
}

async function askExposeOptions(port: number, attributes: PortAttributes, current: ExposedPort | undefined): Promise<ExposeRequest> {
  const title = `Expose Port ${port}`;
  const name = required(
    await vscode.window.showInputBox({
      title: `${title}: label (1/4)`,
      prompt: 'Label (optional; shown as "label (port)")',
      value: current?.name ?? attributes.label ?? '',
      placeHolder: 'web',
    }),
  );
  const visibility = required(
    await vscode.window.showQuickPick(
      [
        { label: 'Public', description: 'anyone with the URL', value: 'public' as Visibility },
        { label: 'Private', description: 'needs the control-API token (opens in VS Code through a one-time link)', value: 'private' as Visibility },
      ].sort((a) => (a.value === (current?.visibility ?? attributes.visibility ?? 'public') ? -1 : 1)),
      { title: `${title}: visibility (2/4)`, placeHolder: 'Who may open the preview?' },
    ),
  ).value;
  const token = required(
    await vscode.window.showInputBox({
      title: `${title}: URL token (3/4)`,
      prompt: current
        ? 'URL token: Enter keeps the current URL; a new one replaces it (the old URL stops working).'
        : 'URL token: Enter keeps this random one; it stays the same across restarts.',
      value: current ? '' : generateToken(),
      validateInput: validateTokenInput,
    }),
  );
  const ttl = required(
    await vscode.window.showInputBox({ title: `${title}: expiry (4/4)`, prompt: "Expires after (optional; e.g. '30m', '2h'; Enter for never)", validateInput: validateTtlInput }),
  );
  return exposeRequest({ port, name, token, visibility, ttl });
}

/** An exposed port a command works on: the ref's, or one picked (undefined when the ref names one not exposed). */
async function pickExposed(ctx: Ctx, ref: Ref, title: string): Promise<{ sandboxId: string; port: number; current: ExposedPort | undefined }> {
  const sandboxId = await pickSandbox(ctx, ref);
  const ports = ctx.world[sandboxId]?.ports ?? [];
  if (!ref?.port && ports.length === 0) throw new Error(`Sandbox ${sandboxId} has no exposed ports. Expose one first.`);
  const port = await pickPort(
    ctx,
    sandboxId,
    ref,
    ports.map((p) => p.port),
    title,
  );
  return { sandboxId, port, current: ports.find((p) => p.port === port) };
}

/** An exposed port to change (label, visibility). */
async function exposedPort(ctx: Ctx, ref: Ref, title: string): Promise<{ sandboxId: string; current: ExposedPort }> {
  const { sandboxId, port, current } = await pickExposed(ctx, ref, title);
  if (!current) throw new Error(`Port ${port} of sandbox ${sandboxId} is not exposed. Expose it first.`);
  return { sandboxId, current };
}

async function setVisibility(ctx: Ctx, ref: Ref, visibility: Visibility): Promise<void> {
  const { sandboxId, current } = await exposedPort(ctx, ref, visibility === 'public' ? 'Make Public' : 'Make Private');
  if (current.visibility === visibility) return;
  const result = await ctx.withProgress(`Making port ${current.port} ${visibility}…`, () => ctx.client.exposePort(sandboxId, reexpose(current, { visibility })));
  await ctx.afterChange(sandboxId);
  void vscode.window.setStatusBarMessage(`$(${visibility === 'private' ? 'lock' : 'globe'}) Port ${current.port} is ${visibility}: ${result.url}`, 4000);
}

/** The preview URL of an exposed port, and the URL to open (a private preview opens through a fresh ticket). */
async function previewUrl(ctx: Ctx, ref: Ref, title: string): Promise<{ url: string; open: string }> {
  const { sandboxId, port, current: exposed } = await pickExposed(ctx, ref, title);
  const url = exposed?.url ?? ref?.url;
  if (!url) throw new Error(`Port ${port} of sandbox ${sandboxId} is not exposed. Expose it first.`);
  if (exposed?.visibility !== 'private') return { url, open: url };
  return { url, open: await ctx.client.ticket(sandboxId, port) };
}

function isTunnelUrl(ctx: Ctx, ref: Partial<NodeRef>): boolean {
  return (ctx.world[ref.sandboxId ?? '']?.tunnels ?? []).some((t) => t.url === ref.url);
}

/** Tunnel routes arrive later than the rest of the API: say so plainly when they are missing. */
async function tunnels<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (isMissingRoute(err)) throw new Error('This Worker does not support tunnels yet (its /tunnels routes are missing). Update the Worker.', { cause: err });
    throw err;
  }
}

async function copy(url: string): Promise<void> {
  await vscode.env.clipboard.writeText(url);
  vscode.window.setStatusBarMessage(`$(copy) Copied ${url}`, 3000);
}

/** Focus the view (used by the status-bar count and after connecting). */
export function focusView(): Thenable<unknown> {
  return vscode.commands.executeCommand(`${VIEW_ID}.focus`);
}
