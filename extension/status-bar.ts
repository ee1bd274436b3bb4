/**
 * The status-bar item: the current preview URL (the last exposed or opened). Clicking copies it;
 * with several previews a quick pick chooses which. Hidden when nothing is exposed.
 */
import * as vscode from 'vscode';
import { PreviewTracker, type PreviewEntry } from './core/previews';
import type { WorldState } from './core/state-reducer';

export const COPY_PREVIEW_COMMAND = 'sandboxPorts.copyUrl';

export class PreviewStatusBar implements vscode.Disposable {
  readonly tracker = new PreviewTracker();
  private readonly item: vscode.StatusBarItem;
  private readonly world: () => WorldState;

  constructor(world: () => WorldState) {
    this.world = world;
    this.item = vscode.window.createStatusBarItem('sandboxPorts.preview', vscode.StatusBarAlignment.Left, 50);
    this.item.name = 'Sandbox Ports: Preview URL';
    this.item.command = COPY_PREVIEW_COMMAND;
  }

  /** What the item shows now ('' when hidden), for tests. */
  get text(): string {
    return this.visible ? this.item.text : '';
  }

  private visible = false;

  touch(url: string): void {
    this.tracker.touch(url);
    this.update();
  }

  update(): void {
    const entries = this.tracker.entries(this.world());
    const current = entries[0];
    if (!current) {
      this.item.hide();
      this.visible = false;
      return;
    }
    const more = entries.length > 1 ? ` (+${entries.length - 1})` : '';
    this.item.text = `$(globe) ${current.url}${more}`;
    const tooltip = new vscode.MarkdownString(
      [
        `**Preview of port ${current.port}** in \`${current.sandboxId}\``,
        current.url,
        entries.length > 1 ? `Click to copy one of ${entries.length} preview URLs` : 'Click to copy',
      ].join('\n\n'),
    );
    this.item.tooltip = tooltip;
    this.item.show();
    this.visible = true;
  }

  /** The URL to copy: the only one, or the one picked (undefined when cancelled or none). */
  async choose(): Promise<PreviewEntry | undefined> {
    const entries = this.tracker.entries(this.world());
    if (entries.length <= 1) return entries[0];
    const picked = await vscode.window.showQuickPick(
      entries.map((e) => ({ label: e.url, description: `${e.name ? `${e.name} · ` : ''}port ${e.port} · ${e.sandboxId}`, entry: e })),
      { title: 'Copy a preview URL', placeHolder: 'Which preview URL?' },
    );
    return picked?.entry;
  }

  dispose(): void {
    this.item.dispose();
  }
}
