/**
 * Shows the connection's state where a person looks: the view's description, a line above the
 * tree while the stream is lost, and a status-bar item (click: retry now, or connect). The words
 * come from core/link-state; this only copies them and ticks the "reconnecting in N s" countdown.
 */
import * as vscode from 'vscode';
import { linkTexts, type LinkState } from './core/link-state';

export class LinkView implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly view: vscode.TreeView<unknown>;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private state: LinkState = { kind: 'disconnected' };
  private errors: readonly string[] = [];

  constructor(view: vscode.TreeView<unknown>) {
    this.view = view;
    this.item = vscode.window.createStatusBarItem('sandboxPorts.connection', vscode.StatusBarAlignment.Left, 51);
    this.item.name = 'Sandbox Ports: Connection';
  }

  /** What the status-bar item says now (for tests). */
  get statusText(): string {
    return this.item.text;
  }

  show(state: LinkState, outageErrors: readonly string[]): void {
    this.state = state;
    this.errors = outageErrors;
    this.render();
    const counting = state.kind === 'reconnecting' && state.retryAt !== undefined;
    if (counting && !this.ticker) this.ticker = setInterval(() => this.render(), 1000);
    if (!counting && this.ticker) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  private render(): void {
    const texts = linkTexts(this.state, Date.now(), this.errors);
    this.view.description = texts.description;
    this.view.message = texts.message;
    this.item.text = texts.status;
    this.item.tooltip = texts.tooltip;
    // Reconnect retries at once while reconnecting, asks for a token when refused, and reconnects when not connected.
    this.item.command = this.state.kind === 'connected' ? 'sandboxPorts.sandboxes.focus' : 'sandboxPorts.reconnect';
    this.item.backgroundColor = this.state.kind === 'reconnecting' || this.state.kind === 'refused' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.item.show();
  }

  dispose(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.item.dispose();
  }
}
