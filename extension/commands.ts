/**
 * Every command of the extension in ONE table (id → handler), registered in one loop. Handlers
 * take what a tree node, a tooltip link or a test passes (a NodeRef) and ask for whatever is
 * missing; the longer ones live beside this file (connection-commands.ts, expose-commands.ts).
 * A failure is reported once, here, with "Show Logs".
 */
import * as vscode from 'vscode';
import { isMissingRoute } from './core/api-client';
import type { NodeRef, TreeNode } from './core/tree-model';
import type { Ctx } from './context';
import { connect, reconnect, startLocalServer, stopLocalServer } from './connection-commands';
import { isCancellation } from './errors';
import { exposePort, pickExposed, previewUrl, setLabel, setVisibility, type ExposeCommandOptions } from './expose-commands';
import { askSandboxId, pickPort, pickProcess, pickSandbox, required } from './pickers';
import type { CreateSandboxRequest } from '../worker/protocol/index';

type Ref = Partial<NodeRef> | undefined;
// Each handler takes its own arguments (refs, options): the table can only say "some arguments".
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Handler = (ctx: Ctx, ...args: any[]) => Promise<unknown>;

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
  'sandboxPorts.createSandbox': async (ctx, id?: string, options?: Pick<CreateSandboxRequest, 'instanceType' | 'resources'>) => {
    const sandboxId = typeof id === 'string' ? id : await askSandboxId();
    // Sizes come from the Worker's instance type; callers (and keybindings) may name others.
    const sizes = options && typeof options === 'object' ? { instanceType: options.instanceType, resources: options.resources } : {};
    await ctx.withProgress(`Creating sandbox ${sandboxId}…`, () => ctx.client.createSandbox(sandboxId, sizes));
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
    const started = await startAndShow(ctx, sandboxId, old.command);
    // The new run takes the old row's place (only once it runs: a failed start keeps the old row).
    ctx.clearedProcesses.add(`${sandboxId}/${processId}`);
    ctx.tree.refreshNow();
    return started;
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
  // Stop from a menu or button acts at once (as a terminal's kill does); the Delete key asks first.
  'sandboxPorts.killProcess': async (ctx, ref: Ref, askFirst?: boolean) => {
    const { sandboxId, processId } = await pickProcess(ctx, selected(ctx, ref), (p) => p.status === 'running', 'running process');
    if (askFirst === true) {
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
    const { sandboxId, port } = await pickExposed(ctx, selected(ctx, ref), 'Unexpose Port');
    await ctx.withProgress(`Unexposing port ${port}…`, () => ctx.client.unexposePort(sandboxId, port));
    await ctx.afterChange(sandboxId);
  },
  'sandboxPorts.setLabel': (ctx, ref: Ref, label?: string) => setLabel(ctx, selected(ctx, ref), label),
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
  'sandboxPorts.inspectTraffic': async (ctx, ref: Ref) => {
    const { sandboxId, port } = await pickExposed(ctx, selected(ctx, ref), 'Inspect Traffic');
    return ctx.traffic.show(sandboxId, port);
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
    // The row the command names: the one passed (a menu passes the node), else the selection.
    const node = !ref || 'fromSelection' in ref ? ctx.view.selection[0] : 'kind' in ref ? (ref as TreeNode) : undefined;
    const r = selected(ctx, ref);
    const kind = node?.kind ?? (r?.processId ? 'process' : r?.port ? 'port' : 'sandbox');
    if (kind === 'port') return vscode.commands.executeCommand('sandboxPorts.unexposePort', r);
    if (kind === 'tunnel') return vscode.commands.executeCommand('sandboxPorts.destroyTunnel', r);
    if (kind === 'process') {
      const running = ctx.world[r!.sandboxId!]?.processes.find((p) => p.id === r!.processId)?.status === 'running';
      return running ? vscode.commands.executeCommand('sandboxPorts.killProcess', r, true) : vscode.commands.executeCommand('sandboxPorts.clearProcess', r);
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
  inspectTraffic: 'Could not open the traffic inspector',
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
