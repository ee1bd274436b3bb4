/** The control-API token lives in SecretStorage, keyed by Worker URL; the last URL in globalState. */
import type * as vscode from 'vscode';

const LAST_URL = 'sandboxPorts.lastWorkerUrl';

export class Credentials {
  private readonly context: vscode.ExtensionContext;

  constructor(context: vscode.ExtensionContext) {
    this.context = context;
  }

  private key(url: string): string {
    return `sandboxPorts.token:${url}`;
  }

  async save(url: string, token: string): Promise<void> {
    await this.context.secrets.store(this.key(url), token);
    await this.context.globalState.update(LAST_URL, url);
  }

  token(url: string): Thenable<string | undefined> {
    return this.context.secrets.get(this.key(url));
  }

  get lastUrl(): string | undefined {
    return this.context.globalState.get<string>(LAST_URL);
  }

  /** Forget the last URL (disconnect) so the next start-up does not reconnect; the token stays. */
  async forgetLast(): Promise<void> {
    await this.context.globalState.update(LAST_URL, undefined);
  }
}
