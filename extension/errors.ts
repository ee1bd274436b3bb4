/**
 * Errors at the edge: one short message per failure, with a "Show Logs" action that opens the
 * extension's LogOutputChannel where the details were written. The same message is not shown
 * again while it is still on screen.
 */
import * as vscode from 'vscode';
import { ErrorCode, SandboxError } from '../worker/protocol/index';
import { isMissingRoute } from './core/api-client';

export class ErrorReporter {
  private readonly log: vscode.LogOutputChannel;
  private readonly showing = new Set<string>();

  constructor(log: vscode.LogOutputChannel) {
    this.log = log;
  }

  /** Logs the whole error and shows one short message for it. */
  show(what: string, err: unknown): void {
    if (isCancellation(err)) return;
    const message = `${what}: ${describe(err)}`;
    this.log.error(message, err instanceof SandboxError ? `(${err.code})` : err instanceof Error && err.stack ? err.stack : '');
    if (this.showing.has(message)) return;
    this.showing.add(message);
    void vscode.window.showErrorMessage(message, 'Show Logs').then((choice) => {
      this.showing.delete(message);
      if (choice === 'Show Logs') this.log.show(true);
    });
  }
}

/** A user-facing sentence for an error; a missing route says the Worker is older than the extension. */
export function describe(err: unknown): string {
  if (isMissingRoute(err)) {
    return `this Worker does not have that route yet (${(err as Error).message}). Update the Worker to a version that supports it.`;
  }
  if (err instanceof SandboxError && err.code === ErrorCode.UNAUTHORIZED) return 'the Worker refused the token (401). Connect again with the right token.';
  if (err instanceof Error) return err.message;
  return String(err);
}

export class Cancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'Cancelled';
  }
}

export function isCancellation(err: unknown): boolean {
  return err instanceof Cancelled || err instanceof vscode.CancellationError;
}
