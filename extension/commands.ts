/**
 * Every command of the extension in ONE table (id → handler), registered in one loop. Handlers
 * take what a tree node, a tooltip link or a test passes (a NodeRef) and ask for whatever is
 * missing. A failure is reported once, here, with "Show Logs".
 */
import * as vscode from 'vscode';
import type { Visibility } from '../worker/protocol/index';
import { isMissingRoute } from './core/api-client';
import { exposeRequest, validateTokenInput, validateTtlInput, type ExposeAnswers } from './core/expose-input';
import { normaliseWorkerUrl } from './core/api-client';
import { waitUntilReady } from './core/ready';
import { httpFetch } from './http-fetch';
import type { NodeRef } from './core/tree-model';
import type { Ctx } from './context';
import { Cancelled, isCancellation } from './errors';
import { LocalServer } from './local-server';
import { askSandboxId, pickPort, pickProcess, pickSandbox, required } from './pickers';
import { VIEW_ID } from './sandbox-tree';
import { COPY_PREVIEW_COMMAND } from './status-bar';

type Ref = Partial<NodeRef> | undefined;
type Handler = (ctx: Ctx, ...args: any[]) => Promise<unknown>;

/** Options a caller (a notification, a test) may pass to Expose Port to skip the questions. */
export interface ExposeCommandOptions extends Partial<Omit<ExposeAnswers, 'port'>> {
  /** Open the preview once the port answers (default: the openOnExpose setting). */
  open?: boolean;
}

export const commands: Record<string, Handler> = {
  'sandboxPorts.connect': connect,
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
    const sandboxId = await pickSandbox(ctx, ref);
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
    const sandboxId = await pickSandbox(ctx, ref);
    const line =
      typeof command === 'string'
        ? command
        : required(await vscode.window.showInputBox({ title: `Start Process in ${sandboxId}`, prompt: 'Command line (runs in /workspace)', placeHolder: 'python3 -m http.server 8080', validateInput: (v) => (v.trim() ? undefined : 'Type a command.') }));
    const process = await ctx.withProgress(`Starting ${line}…`, () => ctx.client.startProcess(sandboxId, line.trim()));
    ctx.logs.show(sandboxId, process.id);
    await ctx.afterChange(sandboxId);
    return process;
  },
  'sandboxPorts.killProcess': async (ctx, ref: Ref) => {
    const { sandboxId, processId } = await pickProcess(ctx, ref, (p) => p.status === 'running', 'running process');
    await ctx.withProgress(`Stopping ${processId}…`, () => ctx.client.killProcess(sandboxId, processId));
    await ctx.afterChange(sandboxId);
  },
  'sandboxPorts.showLogs': async (ctx, ref: Ref) => {
    const { sandboxId, processId } = await pickProcess(ctx, ref, () => true, 'process');
    ctx.logs.show(sandboxId, processId, false);
  },
  'sandboxPorts.exposePort': exposePort,
  'sandboxPorts.unexposePort': async (ctx, ref: Ref) => {
    const sandboxId = await pickSandbox(ctx, ref);
    const port = await pickPort(ctx, sandboxId, ref, (ctx.world[sandboxId]?.ports ?? []).map((p) => p.port), 'Unexpose Port');
    await ctx.withProgress(`Unexposing port ${port}…`, () => ctx.client.unexposePort(sandboxId, port));
    await ctx.afterChange(sandboxId);
  },
  'sandboxPorts.openPreview': async (ctx, ref: Ref) => {
    const url = await previewUrl(ctx, ref, 'Open Preview');
    await vscode.commands.executeCommand('simpleBrowser.show', url.open);
    ctx.statusBar.touch(url.url);
  },
  'sandboxPorts.openExternal': async (ctx, ref: Ref) => {
    const url = await previewUrl(ctx, ref, 'Open in Browser');
    await vscode.env.openExternal(vscode.Uri.parse(url.open));
    ctx.statusBar.touch(url.url);
  },
  'sandboxPorts.copyUrl': async (ctx, ref: Ref) => {
    const url = ref?.url ?? (await previewUrl(ctx, ref, 'Copy URL')).url;
    await copy(url);
  },
  [COPY_PREVIEW_COMMAND]: async (ctx) => {
    const entry = await ctx.statusBar.choose();
    if (entry) await copy(entry.url);
  },
  'sandboxPorts.createTunnel': async (ctx, ref: Ref) => {
    const sandboxId = await pickSandbox(ctx, ref);
    const s = ctx.world[sandboxId];
    const port = await pickPort(ctx, sandboxId, ref, [...new Set([...(s?.detectedPorts ?? []).map((d) => d.port)])], 'Create Tunnel');
    const tunnel = await ctx.withProgress(`Creating a tunnel for port ${port}…`, () => tunnels(ctx.client.createTunnel(sandboxId, port)));
    await ctx.afterChange(sandboxId);
    void vscode.window.showInformationMessage(`Tunnel for port ${port}: ${tunnel.url}`, 'Copy', 'Open').then((choice) => {
      if (choice === 'Copy') void copy(tunnel.url);
      if (choice === 'Open') void vscode.env.openExternal(vscode.Uri.parse(tunnel.url));
    });
    return tunnel;
  },
  'sandboxPorts.destroyTunnel': async (ctx, ref: Ref) => {
    const sandboxId = await pickSandbox(ctx, ref);
    const port = await pickPort(ctx, sandboxId, ref, (ctx.world[sandboxId]?.tunnels ?? []).map((t) => t.port), 'Destroy Tunnel');
    await ctx.withProgress(`Destroying the tunnel for port ${port}…`, () => tunnels(ctx.client.destroyTunnel(sandboxId, port)));
    await ctx.afterChange(sandboxId);
  },
  'sandboxPorts.openTunnel': async (ctx, ref: Ref) => {
    await vscode.env.openExternal(vscode.Uri.parse(await tunnelUrl(ctx, ref)));
  },
  'sandboxPorts.copyTunnelUrl': async (ctx, ref: Ref) => {
    await copy(await tunnelUrl(ctx, ref));
  },
  'sandboxPorts.showExtensionLog': async (ctx) => ctx.log.show(),
};

/** Registers the table; every handler's failure is shown once with "Show Logs". */
export function registerCommands(ctx: Ctx): void {
  for (const [id, handler] of Object.entries(commands)) {
    ctx.own(
      vscode.commands.registerCommand(id, async (...args: unknown[]) => {
        try {
          return await handler(ctx, ...args);
        } catch (err) {
          if (isCancellation(err)) return undefined;
          ctx.errors.show(titleOf(id), err);
          return undefined;
        }
      }),
    );
  }
}

function titleOf(id: string): string {
  const words = id.replace('sandboxPorts.', '').replace(/([A-Z])/g, ' $1');
  return words.charAt(0).toUpperCase() + words.slice(1).toLowerCase();
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
  const token =
    typeof tokenArg === 'string'
      ? tokenArg
      : required(
          await vscode.window.showInputBox({
            title: 'Connect to Worker (2/2)',
            prompt: `The control-API token for ${origin} (SANDBOX_API_TOKEN; kept in VS Code's secret storage)`,
            password: true,
            value: (await ctx.credentials.token(origin)) ?? '',
            validateInput: (v) => (v.trim() ? undefined : 'The token is required.'),
          }),
        );
  await ctx.withProgress(`Connecting to ${origin}…`, () => ctx.connect(origin, token.trim()));
  void vscode.window.setStatusBarMessage(`$(check) Connected to ${origin}`, 4000);
}

async function startLocalServer(ctx: Ctx): Promise<void> {
  const folder = LocalServer.findFolder(ctx.settings.localServerFolder);
  if (!folder) {
    const choice = await vscode.window.showErrorMessage(
      'Start Local Server needs the Sandbox Ports project folder: open it as the workspace, or set "sandboxPorts.localServer.folder".',
      'Open Settings',
    );
    if (choice) await vscode.commands.executeCommand('workbench.action.openSettings', 'sandboxPorts.localServer.folder');
    return;
  }
  const existing = ctx.localServer.running ? null : await LocalServer.alreadyRunning(folder);
  const config =
    existing ??
    (await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Starting the local server (npm start)…', cancellable: true },
      (_p, token) => ctx.localServer.start(folder, token),
    ));
  if (existing) ctx.log.info(`a local server is already running at ${existing.url}; connecting to it`);
  await ctx.withProgress(`Connecting to ${config.url}…`, () => ctx.connect(config.url, config.token));
  await ctx.setContext('localServerRunning', ctx.localServer.running);
  void vscode.window.setStatusBarMessage(`$(check) Local server at ${config.url}`, 4000);
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

async function exposePort(ctx: Ctx, ref: Ref, options?: ExposeCommandOptions): Promise<unknown> {
  const sandboxId = await pickSandbox(ctx, ref);
  const s = ctx.world[sandboxId];
  const exposed = new Set((s?.ports ?? []).map((p) => p.port));
  const candidates = (s?.detectedPorts ?? []).filter((d) => !exposed.has(d.port) && (!ref?.processId || d.processId === ref.processId)).map((d) => d.port);
  const port = await pickPort(ctx, sandboxId, ref, candidates, `Expose Port in ${sandboxId}`);
  const answers: ExposeAnswers = options ? { port, ...options } : await askExposeOptions(port);
  const result = await ctx.withProgress(`Exposing port ${port}…`, () => ctx.client.exposePort(sandboxId, exposeRequest(answers)));
  ctx.log.info(`exposed ${sandboxId}:${port} at ${result.url}`);
  ctx.statusBar.touch(result.url);
  await ctx.afterChange(sandboxId);
  const open = options?.open ?? ctx.settings.openOnExpose;
  if (!open) return result;
  // The port may belong to a process we know: the Worker's wait-for-port also fails fast if it exits.
  const processId = ref?.processId ?? s?.detectedPorts.find((d) => d.port === port)?.processId ?? undefined;
  const timeoutMs = ctx.settings.readyTimeoutSeconds * 1000;
  const client = ctx.client;
  const token = ctx.connection ? await ctx.credentials.token(client.url) : undefined;
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Waiting for port ${port} to answer…`, cancellable: true },
    async (_p, cancel) => {
      const abort = new AbortController();
      cancel.onCancellationRequested(() => abort.abort());
      await waitUntilReady({
        url: result.url,
        fetch: httpFetch,
        ...(token ? { token } : {}),
        timeoutMs,
        signal: abort.signal,
        ...(processId ? { waitForPort: (t: number) => client.waitForPort(sandboxId, processId, port, { timeout: t }) } : {}),
      });
      if (abort.signal.aborted) throw new Cancelled();
    },
  );
  await vscode.commands.executeCommand('sandboxPorts.openPreview', { sandboxId, port, url: result.url });
  return result;
}

async function askExposeOptions(port: number): Promise<ExposeAnswers> {
  const title = `Expose Port ${port}`;
  const name = required(await vscode.window.showInputBox({ title: `${title} (1/4)`, prompt: 'Name (optional; Enter to skip)', placeHolder: 'web' }));
  const token = required(
    await vscode.window.showInputBox({ title: `${title} (2/4)`, prompt: 'URL token (optional; Enter for a generated one). A custom token keeps the URL across restarts.', validateInput: validateTokenInput }),
  );
  const visibility = required(
    await vscode.window.showQuickPick(
      [
        { label: 'Public', description: 'anyone with the URL', value: 'public' as Visibility },
        { label: 'Private', description: 'needs the control-API token (opens in VS Code through a one-time link)', value: 'private' as Visibility },
      ],
      { title: `${title} (3/4)`, placeHolder: 'Visibility' },
    ),
  ).value;
  const ttl = required(await vscode.window.showInputBox({ title: `${title} (4/4)`, prompt: "Expires after (optional; e.g. '30m', '2h'; Enter for never)", validateInput: validateTtlInput }));
  return { port, name, token, visibility, ttl };
}

/** The preview URL of an exposed port, and the URL to open (a private preview opens through a fresh ticket). */
async function previewUrl(ctx: Ctx, ref: Ref, title: string): Promise<{ url: string; open: string }> {
  const sandboxId = await pickSandbox(ctx, ref);
  const ports = ctx.world[sandboxId]?.ports ?? [];
  if (!ref?.port && ports.length === 0) throw new Error(`Sandbox ${sandboxId} has no exposed ports. Expose one first.`);
  const port = await pickPort(ctx, sandboxId, ref, ports.map((p) => p.port), title);
  const exposed = ports.find((p) => p.port === port);
  const url = exposed?.url ?? ref?.url;
  if (!url) throw new Error(`Port ${port} of ${sandboxId} is not exposed.`);
  if (exposed?.visibility !== 'private') return { url, open: url };
  return { url, open: await ctx.client.ticket(sandboxId, port) };
}

async function tunnelUrl(ctx: Ctx, ref: Ref): Promise<string> {
  if (ref?.url) return ref.url;
  const sandboxId = await pickSandbox(ctx, ref);
  const list = ctx.world[sandboxId]?.tunnels ?? [];
  const port = await pickPort(ctx, sandboxId, ref, list.map((t) => t.port), 'Tunnel');
  const t = list.find((x) => x.port === port);
  if (!t) throw new Error(`Port ${port} of ${sandboxId} has no tunnel.`);
  return t.url;
}

/** Tunnel routes arrive later than the rest of the API: say so plainly when they are missing. */
async function tunnels<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (isMissingRoute(err)) throw new Error('This Worker does not support tunnels yet (its /tunnels routes are missing). Update the Worker.');
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
