/**
 * Entry point. activate() only wires: it builds the one context object, registers the command
 * table, and reconnects to the last Worker. Everything it creates is disposed with the context.
 */
import * as vscode from 'vscode';
import { registerCommands } from './commands';
import { Ctx } from './context';

/** What the extension exports (used by the integration tests to read the view and channels). */
export interface SandboxPortsApi {
  ctx: Ctx;
  /** How long activate() took, in milliseconds. */
  activationMs: number;
}

export async function activate(context: vscode.ExtensionContext): Promise<SandboxPortsApi | undefined> {
  const log = vscode.window.createOutputChannel('Sandbox Ports', { log: true });
  context.subscriptions.push(log);
  try {
    const started = Date.now();
    const ctx = new Ctx(context, log);
    context.subscriptions.push(ctx);
    registerCommands(ctx);
    const activationMs = Date.now() - started;
    log.info(`activated in ${activationMs} ms`);
    void ctx.autoConnect();
    return { ctx, activationMs };
  } catch (err) {
    log.error('activation failed', err instanceof Error ? (err.stack ?? err.message) : String(err));
    void vscode.window.showErrorMessage(`Sandbox Ports could not start: ${(err as Error).message}`, 'Show Logs').then((choice) => {
      if (choice) log.show();
    });
    return undefined;
  }
}

export function deactivate(): void {
  // Everything is in context.subscriptions; VS Code disposes it.
}
